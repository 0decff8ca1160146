package dev.ristretto.tests.nested;

import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;

/** The condition behind {@link NeedsHardwareKvm}: enabled when {@link HardwareKvmHost#availability()} says so. */
public final class HardwareKvmCondition implements ExecutionCondition {

    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
        HardwareKvmHost.Availability availability = HardwareKvmHost.availability();
        if (availability.possible()) {
            return ConditionEvaluationResult.enabled(
                    "hardware-semantics KVM via " + availability.mode().orElseThrow() + ": " + availability.reason());
        }
        return ConditionEvaluationResult.disabled("no hardware-semantics KVM: " + availability.reason());
    }
}
