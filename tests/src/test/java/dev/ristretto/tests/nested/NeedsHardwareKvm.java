package dev.ristretto.tests.nested;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Runs the annotated test class or method only where {@link HardwareKvmHost#exec} can work:
 * directly on hardware-backed KVM, or inside L1 (QEMU TCG) on other x86-64 Linux hosts. Elsewhere
 * (not x86-64 Linux; QEMU missing and not installable) the test is skipped, and the skip reason
 * says which and how to fix it. Deciding may install QEMU once per JVM when running as root.
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@Documented
@ExtendWith(HardwareKvmCondition.class)
public @interface NeedsHardwareKvm {}
