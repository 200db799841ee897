#ifndef RELAY_CFUZZERDRIVER_H
#define RELAY_CFUZZERDRIVER_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (compiler-rt's FuzzerInterface.h), linked in by -sanitize=fuzzer. Runs the fuzzing loop
/// with argc/argv as libFuzzer's flags and `callback` as the target; returns the exit code.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
