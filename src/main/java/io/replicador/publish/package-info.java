/**
 * The publisher: takes changes from a {@code ChangeSource} (today the trigger changelog), turns
 * them into messages ({@code codec}) and publishes them through the transport ({@code broker}),
 * settling them only once the broker confirmed. Also turns the origin design's NOTIFY payloads into
 * changelog rows. May depend on store, broker, codec, schema, metrics, change and config.
 */
package io.replicador.publish;
