/**
 * {@code replicador demo}: starts a primary, two replicas and a broker of its own, replicates a
 * table under load, shows progress and compares. A top-level package like cli: may depend on the
 * stages and everything below them.
 */
package io.replicador.demo;
