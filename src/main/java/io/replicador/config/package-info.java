/**
 * Settings: PostgreSQL addresses (libpq URIs or JDBC URLs), defaults from the environment and a
 * YAML file, and the exception for a setting that is missing or wrong. Depends on nothing else
 * here.
 */
package io.replicador.config;
