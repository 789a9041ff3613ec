/**
 * The change stream's public message format (JSON, versioned; docs/message-format.md): encoding and
 * streaming decoding. Depends on change only.
 */
package io.replicador.codec;
