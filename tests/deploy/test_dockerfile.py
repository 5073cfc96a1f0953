# SPDX-License-Identifier: MIT
"""deploy/Dockerfile: multi-stage (Debian 12 with the -dev packages, then Debian 12 slim), a
non-root user, a HEALTHCHECK, every program of the tree copied in, and a runtime stage that
installs exactly the packages of the libraries the built programs link: the NEEDED entries of
the binaries in TW_BUILD_DIR, mapped to Debian packages with dpkg -S. No Docker engine needed."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import twtest  # noqa: E402

DOCKERFILE = os.path.join(twtest.SOURCE, "deploy", "Dockerfile")
# Packages the runtime stage may install although no program links them, and why.
NOT_LINKED_OK = {"ca-certificates": "libcurl verifies Twilio's TLS certificate against them"}
# Sanitizer runtimes appear only in the ASan+UBSan test build; the image is a plain build.
SANITIZER_LIBS = re.compile(r"^lib(asan|ubsan|lsan|tsan)\.so")


def stages():
    """[(base image, [instruction lines with continuations joined])] per FROM."""
    with open(DOCKERFILE) as f:
        text = f.read()
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            out.append((line.split()[1], []))
        elif out:
            out[-1][1].append(line)
    return out


def apt_packages(lines):
    pkgs = []
    for line in lines:
        if not line.upper().startswith("RUN "):
            continue
        for cmd in re.split(r"&&|;", line[4:]):
            words = cmd.split()
            if "apt-get" in words and "install" in words:
                for w in words[words.index("install") + 1:]:
                    if not w.startswith("-"):
                        pkgs.append(w)
    return pkgs


def programs_in_tree():
    """tw-<dir> for every program directory that has a CMakeLists.txt."""
    return {"tw-" + d for d in ("ingress", "worker", "sender", "admin")
            if os.path.isfile(os.path.join(twtest.SOURCE, d, "CMakeLists.txt"))}


def programs_copied(build_lines):
    for line in build_lines:
        m = re.search(r"for p in ([^;]+);", line)
        if m:
            return {os.path.basename(p) for p in m.group(1).split()}
    return set()


def dpkg_owner(path):
    candidates = [path, os.path.realpath(path)]
    for p in list(candidates):
        candidates.append(p[4:] if p.startswith("/usr/") else "/usr" + p)
    for p in candidates:
        r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":", 1)[0].strip()
    raise AssertionError("no Debian package owns %s" % path)


def needed(binary):
    out = subprocess.run(["objdump", "-p", binary], capture_output=True, text=True,
                         check=True).stdout
    return [l.split()[1] for l in out.splitlines() if l.strip().startswith("NEEDED")]


def resolved(binary):
    """{soname: path} of every library the dynamic loader maps, direct or not."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    libs = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (/\S+)", line)
        if m:
            libs[m.group(1)] = m.group(2)
        else:
            m = re.match(r"\s*(/\S+) \(", line)  # the loader itself
            if m:
                libs[os.path.basename(m.group(1))] = m.group(1)
    return libs


def depends_closure(pkgs):
    """The packages apt would install with pkgs (installed Depends/Pre-Depends, recursively)."""
    seen, todo = set(), list(pkgs)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        r = subprocess.run(["dpkg-query", "-W", "-f=${Depends}, ${Pre-Depends}", p],
                           capture_output=True, text=True)
        if r.returncode != 0:
            continue
        for alt in r.stdout.split(","):
            for choice in alt.split("|"):
                name = choice.strip().split(" ")[0].split(":")[0]
                if name:
                    todo.append(name)
    return seen


def built_binaries():
    out = {}
    for name in programs_in_tree():
        try:
            out[name] = twtest.binary(name)
        except FileNotFoundError:
            raise AssertionError("%s is in the tree but not built in %s" % (name, twtest.BUILD))
    return out


def test_multi_stage_debian12_build_then_slim():
    st = stages()
    assert len(st) == 2, [s[0] for s in st]
    assert st[0][0] == "debian:12", st[0][0]
    assert st[1][0] == "debian:12-slim", st[1][0]
    build = apt_packages(st[0][1])
    assert any(p.endswith("-dev") for p in build), build
    assert not any(p.endswith("-dev") for p in apt_packages(st[1][1])), "a -dev package at runtime"
    assert any(l.upper().startswith("COPY --FROM=") for l in st[1][1]), "runtime copies nothing"


def test_runs_as_non_root_with_a_healthcheck():
    runtime = stages()[-1][1]
    users = [l.split()[1] for l in runtime if l.upper().startswith("USER ")]
    assert users, "no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), user
    health = [l for l in runtime if l.upper().startswith("HEALTHCHECK ")]
    assert health and "tw-admin" in health[0] and "health" in health[0], health


def test_every_program_of_the_tree_is_in_the_image():
    st = stages()
    copied = programs_copied(st[0][1])
    assert copied == programs_in_tree(), (sorted(copied), sorted(programs_in_tree()))
    cmds = [l for l in st[1][1] if l.upper().startswith("CMD ")]
    assert cmds and any(p in cmds[-1] for p in copied), cmds


def test_build_stage_has_the_dev_package_of_each_runtime_library():
    st = stages()
    build, runtime = apt_packages(st[0][1]), apt_packages(st[1][1])
    provided = depends_closure([p for p in build if p.endswith("-dev")])
    for p in runtime:
        if p in NOT_LINKED_OK:
            continue
        assert p in provided, "%s has no -dev package in the build stage" % p


def test_runtime_installs_exactly_what_the_programs_link():
    runtime = apt_packages(stages()[-1][1])
    assert runtime, "the runtime stage installs no package"
    direct = set()  # packages of the NEEDED entries
    every = set()   # packages of every library the loader maps
    for name, path in built_binaries().items():
        libs = resolved(path)
        todo = [n for n in needed(path) if not SANITIZER_LIBS.match(n)]
        for soname in todo:
            assert soname in libs, "%s: %s is not resolved" % (name, soname)
            direct.add(dpkg_owner(libs[soname]))
        # Walk the NEEDED graph (not ldd's whole list: that includes what the sanitizer
        # runtimes of the test build pull in, which the image never has).
        seen = set()
        while todo:
            soname = todo.pop()
            if soname in seen:
                continue
            seen.add(soname)
            assert soname in libs, "%s: %s is not resolved" % (name, soname)
            every.add(dpkg_owner(libs[soname]))
            todo.extend(needed(libs[soname]))
    # Nothing installed that no program links (beyond the named exceptions).
    unused = [p for p in runtime if p not in direct and p not in NOT_LINKED_OK]
    assert not unused, "installed but not linked: %s (linked: %s)" % (unused, sorted(direct))
    # Nothing linked that the runtime stage would lack: each library's package comes in with the
    # listed packages or their dependencies (libc6 and the like come that way).
    closure = depends_closure(runtime)
    missing = sorted(every - closure)
    assert not missing, "linked but not installed: %s" % missing
    for p in NOT_LINKED_OK:
        if p in runtime:
            assert "libcurl4" in direct, "%s is kept for libcurl, which nothing links" % p


if __name__ == "__main__":
    twtest.run([test_multi_stage_debian12_build_then_slim, test_runs_as_non_root_with_a_healthcheck,
                test_every_program_of_the_tree_is_in_the_image,
                test_build_stage_has_the_dev_package_of_each_runtime_library,
                test_runtime_installs_exactly_what_the_programs_link])
