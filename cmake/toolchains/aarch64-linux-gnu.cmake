# Cross build for 64-bit ARM Linux (Raspberry Pi 3/4/5 on a 64-bit OS) with Debian's
# g++-aarch64-linux-gnu. ctest runs the tests under qemu-user; set DSCONV_QEMU_CPU (e.g.
# cortex-a53 for the ARMv8.0 baseline, max for ARMv8.2 with fp16 and dotprod) to pick the CPU.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

set(DSCONV_SYSROOT /usr/aarch64-linux-gnu CACHE PATH "Target libraries for the linker and qemu -L")
set(CMAKE_FIND_ROOT_PATH ${DSCONV_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(DSCONV_QEMU_CPU "max" CACHE STRING "qemu-aarch64 -cpu for ctest (cortex-a53, cortex-a72, max, ...)")
set(CMAKE_CROSSCOMPILING_EMULATOR "qemu-aarch64;-cpu;${DSCONV_QEMU_CPU};-L;${DSCONV_SYSROOT}")
