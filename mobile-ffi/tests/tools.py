"""Unpacks the tools scripts/test-ffi takes from PyPI wheels (the wheels are
only downloaded, never installed).

    tools.py kotlin WHEEL DIR   the Kotlin compiler, its standard library and
                                kotlinx-coroutines, from kotlin-jupyter-kernel
    tools.py darwin WHEEL DIR   the Darwin libc headers Zig ships, laid out as
                                DIR/usr/include (a stand-in for the iOS SDK's
                                C headers when checking the iOS build on Linux)
"""

import io
import os
import sys
import zipfile


def kotlin(wheel, out):
    with zipfile.ZipFile(wheel) as w:
        jars = "run_kotlin_kernel/jars/"
        names = w.namelist()
        stdlib = next(n for n in names if n.startswith(jars + "kotlin-stdlib-"))
        kernel = next(n for n in names if n.startswith(jars + "kotlin-jupyter-kernel-") and n.endswith("-all.jar"))
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "kotlin-stdlib.jar"), "wb") as f:
            f.write(w.read(stdlib))
        # The kernel's jar carries the compiler (K2JVMCompiler) and
        # kotlinx-coroutines; the coroutines alone go on the test's classpath.
        fat = w.read(kernel)
        with open(os.path.join(out, "kotlin-compiler-all.jar"), "wb") as f:
            f.write(fat)
    with zipfile.ZipFile(io.BytesIO(fat)) as src, zipfile.ZipFile(
            os.path.join(out, "kotlinx-coroutines.jar.part"), "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            if name.startswith("kotlinx/coroutines/") or name == "META-INF/kotlinx-coroutines-core.kotlin_module":
                dst.writestr(name, src.read(name))
    # Written last and renamed: its presence means the unpacking finished.
    os.replace(os.path.join(out, "kotlinx-coroutines.jar.part"), os.path.join(out, "kotlinx-coroutines.jar"))


def darwin(wheel, out):
    marker = "/libc/include/any-darwin-any/"
    include = os.path.join(out, "usr", "include")
    with zipfile.ZipFile(wheel) as w:
        for name in w.namelist():
            if marker in name and not name.endswith("/"):
                path = os.path.join(include, name.split(marker, 1)[1])
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as f:
                    f.write(w.read(name))
    open(os.path.join(out, "complete"), "w").close()


if __name__ == "__main__":
    {"kotlin": kotlin, "darwin": darwin}[sys.argv[1]](sys.argv[2], sys.argv[3])
