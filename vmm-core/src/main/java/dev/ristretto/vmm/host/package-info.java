/** Host resources a VM uses: anonymous memory backing guest RAM, and the controlling terminal. */
package dev.ristretto.vmm.host;
