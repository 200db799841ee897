// Only the header matters: LLVMFuzzerRunDriver is defined by libFuzzer. (A C target needs one source file.)
#include "CFuzzerDriver.h"
