/**
 * The {@code replicador} command line: each subcommand parses its options, builds the settings of
 * one stage, runs it and maps errors to exit codes (2 with a one-line reason). May depend on every
 * other package; nothing depends on it.
 */
package io.replicador.cli;
