package dev.ristretto.tests.nested;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** HardwareKvmHost runs a job a second time only when L1 itself crashed, and keeps the evidence. */
class L1CrashRetryTest {
    @TempDir
    Path scratch;

    private ExecResult result(ExecResult.Outcome outcome, int status, String output) {
        return new ExecResult(ExecResult.Mode.NESTED_L1, outcome, status, output, "diagnostics of " + output,
                Duration.ofSeconds(1), Optional.empty(), scratch);
    }

    /** Hands out the given results in order and counts the runs. */
    private static HardwareKvmHost.L1Attempt attempts(Deque<ExecResult> results, int[] runs) {
        return () -> {
            runs[0]++;
            return results.removeFirst();
        };
    }

    @Test
    void aJobThatRanIsNotRunAgainWhateverItsStatus() throws Exception {
        for (ExecResult r : List.of(result(ExecResult.Outcome.EXITED, 0, "ok"), result(ExecResult.Outcome.EXITED, 1, "failed"),
                result(ExecResult.Outcome.TIMED_OUT, 124, "slow"))) {
            int[] runs = {0};
            assertSame(r, HardwareKvmHost.againIfL1Crashed(attempts(new ArrayDeque<>(List.of(r)), runs), scratch));
            assertEquals(1, runs[0]);
        }
        assertFalse(Files.exists(scratch.resolve("l1-crash.log")));
    }

    @Test
    void anL1CrashRunsTheJobOnceMoreAndKeepsTheFirstConsole() throws Exception {
        Files.writeString(scratch.resolve("l1-console.log"), "BUG: TASK stack guard page was hit\n");
        ExecResult second = result(ExecResult.Outcome.EXITED, 0, "second");
        int[] runs = {0};
        ExecResult r = HardwareKvmHost.againIfL1Crashed(attempts(new ArrayDeque<>(List.of(
                result(ExecResult.Outcome.L1_CRASHED, 125, "first"), second)), runs), scratch);
        assertSame(second, r);
        assertEquals(2, runs[0]);
        String kept = Files.readString(scratch.resolve("l1-crash.log"));
        assertTrue(kept.contains("first") && kept.contains("diagnostics of first") && kept.contains("stack guard page"), kept);
    }

    @Test
    void aSecondCrashStands() throws Exception {
        int[] runs = {0};
        ExecResult r = HardwareKvmHost.againIfL1Crashed(attempts(new ArrayDeque<>(List.of(
                result(ExecResult.Outcome.L1_CRASHED, 125, "first"), result(ExecResult.Outcome.L1_CRASHED, 125, "second"))),
                runs), scratch);
        assertEquals(ExecResult.Outcome.L1_CRASHED, r.outcome());
        assertEquals("second", r.output());
        assertEquals(2, runs[0]);
    }
}
