package dev.ristretto.tests.nested;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class ExecResultTest {

    private static ExecResult result(ExecResult.Outcome outcome, int exitCode, String output) {
        return new ExecResult(ExecResult.Mode.NESTED_L1, outcome, exitCode, output, "", Duration.ofMillis(12_345),
                Optional.of(Duration.ofMillis(8_900)), Path.of("/scratch"));
    }

    @Test
    void everyOutcomeTheScriptWritesHasAnOutcome() throws IOException {
        // The words come from run-in-l1.sh's finish/fail calls; a new word there must be mapped here.
        String script = Files.readString(Repository.script(HardwareKvmHost.RUN_IN_L1));
        Matcher calls = Pattern.compile("\\b(?:finish|fail) ([a-z][a-z-]*) (?:\\$EXIT_|\"\\$|[0-9])").matcher(script);
        Set<String> words = calls.results().map(m -> m.group(1)).collect(Collectors.toSet());
        assertEquals(Set.of("exited", "timeout", "no-kvm", "crashed", "missing-tools", "no-kernel", "bad-kernel-tree",
                "bad-usage",
                "interrupted"), words);
        words.forEach(ExecResult.Outcome::fromScriptWord);
    }

    @Test
    void unknownOutcomeWordIsAHarnessError() {
        var error = assertThrows(HarnessException.class, () -> ExecResult.Outcome.fromScriptWord("exploded"));
        assertTrue(error.getMessage().contains("'exploded'"), error.getMessage());
    }

    @Test
    void parsesTheResultFile() {
        Map<String, String> fields = HardwareKvmHost.parseResult("outcome=exited\nstatus=7\nl1_boot_ms=9238\nwall_ms=10782\n");
        assertEquals(Map.of("outcome", "exited", "status", "7", "l1_boot_ms", "9238", "wall_ms", "10782"), fields);
    }

    @Test
    void onlyAnExitWithZeroSucceeds() {
        assertTrue(result(ExecResult.Outcome.EXITED, 0, "").succeeded());
        assertFalse(result(ExecResult.Outcome.EXITED, 1, "").succeeded());
        assertFalse(result(ExecResult.Outcome.TIMED_OUT, 0, "").succeeded());
    }

    @Test
    void findsLinesAndDropsCarriageReturns() {
        ExecResult run = result(ExecResult.Outcome.EXITED, 0, "boot\r\nRISTRETTO-GUEST-UP kernel=6.1 cpus=2\r\n");
        assertEquals("6.1", run.find(Pattern.compile("kernel=(\\S+)")).orElseThrow().group(1));
        assertEquals(2, run.outputLines().size());
        assertTrue(run.printed("cpus=2\n"));
    }

    @Test
    void summaryNamesOutcomeTimingsAndLogs() {
        assertEquals("exited with 3 after 12.3 s in NESTED_L1 (L1 boot 8.9 s); logs in /scratch",
                result(ExecResult.Outcome.EXITED, 3, "").summary());
        assertTrue(result(ExecResult.Outcome.TIMED_OUT, 124, "").summary().startsWith("TIMED_OUT (code 124)"));
    }
}
