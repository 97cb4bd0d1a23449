# Cross build for 32-bit ARM Linux with NEON (Raspberry Pi OS 32-bit on a Pi 2 v1.2/3/4/5)
# with Debian's g++-arm-linux-gnueabihf. Debian's armhf default is VFPv3 without NEON, so the
# NEON kernel files get -march=armv7-a -mfpu=neon-vfpv4 -mfloat-abi=hard (CMakeLists.txt);
# everything else keeps the portable baseline, and dispatch checks HWCAP_NEON|HWCAP_VFPv4
# before running them. ctest runs the tests under qemu-arm.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7)

set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)
# Silences g++'s note that passing some structs changed ABI in GCC 7.1 (nothing to act on).
set(CMAKE_CXX_FLAGS_INIT "-Wno-psabi")

set(DSCONV_SYSROOT /usr/arm-linux-gnueabihf CACHE PATH "Target libraries for the linker and qemu -L")
set(CMAKE_FIND_ROOT_PATH ${DSCONV_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(DSCONV_QEMU_CPU "max" CACHE STRING "qemu-arm -cpu for ctest (cortex-a7, cortex-a15, max, ...)")
set(CMAKE_CROSSCOMPILING_EMULATOR "qemu-arm;-cpu;${DSCONV_QEMU_CPU};-L;${DSCONV_SYSROOT}")
