package io.replicador.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.replicador.testing.CliRun;
import java.nio.file.Path;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Element;

class VersionTest {

  /** The version in pom.xml (the tests run in the project directory). */
  private static String projectVersion() throws Exception {
    Element project =
        DocumentBuilderFactory.newInstance()
            .newDocumentBuilder()
            .parse(Path.of("pom.xml").toFile())
            .getDocumentElement();
    for (var n = project.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (n instanceof Element e && e.getTagName().equals("version")) {
        return e.getTextContent().strip();
      }
    }
    throw new AssertionError("pom.xml has no project version");
  }

  @Test
  void versionIsTheMavenProjectVersion() throws Exception {
    CliRun run = CliRun.of("--version");

    assertThat(run.status()).isZero();
    assertThat(run.out()).isEqualTo("replicador " + projectVersion() + System.lineSeparator());
  }

  @Test
  void everySubcommandPrintsTheSameVersion() throws Exception {
    assertThat(CliRun.of("listen", "--version").out().strip())
        .isEqualTo("replicador " + projectVersion());
  }
}
