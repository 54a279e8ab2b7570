"""The learner process, where the autograder runs one submission's code (no chapter uses it).

worker.py starts it as ``python -I -S -B -c TEXT NUMPY_FOLDER`` in an empty temporary
folder, TEXT being learner.py's text and then this file's, so cnnedu is not on its path.
``serve`` caps its memory, CPU time and file sizes and, where Linux offers Landlock (5.13+),
lets it read only the standard library, NumPy and its shared libraries and write only its
folder (from 6.7 and 6.12: no TCP, no signals to other processes). It runs the submission's
definitions (``learner.load``), then answers each request, a function's name and arguments,
with what ``learner.call`` returns. A message is a JSON header, then the arrays it refers to
in .npy format (no pickle), each part preceded by its length in 8 bytes. Only numbers,
strings, arrays and containers of them leave this process; the grader gets a
``LearnerObject`` for anything else, and can send it back (a cache) to mean that object.
"""

import ctypes
import io
import json
import os
import resource
import struct
import sys
import sysconfig

import numpy as np

if __name__ != "__main__":  # in the learner process, learner.py's text has just run
    from .learner import Formula, call, load

MAX_MESSAGE = 64 * 2**20  # bytes in one message (an exercise's largest array is 160 kB)
REQUEST_KINDS = {"tuple", "list", "dict", "array", "scalar", "rng", "formula", "ref"}
REPLY_KINDS = {"tuple", "list", "dict", "array", "scalar", "object"}
NOT_ALLOWED = "importing cnnedu is not allowed in graded exercises"


class LearnerObject:
    """The grader's stand-in for an object that stays in the learner process.

    Its class is named after the learner's type, so that hints read "out is a Foo".
    """


def encode_message(value, kept=None, refs=None):
    """The bytes of a message carrying ``value``; raises TypeError for what cannot be sent.

    The learner process passes ``kept``, to which each object it sends (but numbers and
    strings) is appended, the message giving its index; the grader passes ``refs`` ({id:
    (object, index)}, filled by ``read_message``), so that such an object goes back as its index.
    """
    arrays, memo = [], {}

    def encode(value):
        if refs is not None and id(value) in refs:
            return {"t": "ref", "v": refs[id(value)][1]}
        if isinstance(value, (bool, int, float, str, type(None))) and not isinstance(
                value, np.generic):  # np.float64 is a float, but goes as a NumPy scalar
            return value
        if (isinstance(value, (np.ndarray, np.generic))
                and np.asarray(value).dtype.kind in "biufcSU"):
            if id(value) not in memo:  # one array passed twice stays one array
                memo[id(value)] = len(arrays)
                arrays.append(np.asarray(value))
            node = {"t": "array" if isinstance(value, np.ndarray) else "scalar",
                    "v": memo[id(value)]}
        elif isinstance(value, (tuple, list)):
            node = {"t": type(value).__name__, "v": [encode(v) for v in value]}
        elif isinstance(value, dict):
            node = {"t": "dict", "v": [[encode(k), encode(v)] for k, v in value.items()]}
        elif kept is not None:
            node = {"t": "object", "v": type(value).__name__}
        elif isinstance(value, np.random.Generator):
            node = {"t": "rng", "v": encode(value.bit_generator.state)}
        elif isinstance(value, Formula):
            node = {"t": "formula", "v": [value.expression, encode(value.arrays)]}
        else:
            raise TypeError(f"cannot send a {type(value).__name__} to the learner process")
        if kept is not None:
            node["ref"] = len(kept)
            kept.append(value)
        return node

    parts = [json.dumps({"value": encode(value), "arrays": len(arrays)}).encode()]
    for array in arrays:
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        parts.append(buffer.getvalue())
    return b"".join(len(part).to_bytes(8, "little") + part for part in parts)


def read_message(read, allowed, kept=None, refs=None):
    """The value of the next message; ``read(n)`` returns exactly n bytes or raises.

    Raises ValueError for a node not of the ``allowed`` kinds, an array that needs pickle or
    a message over MAX_MESSAGE bytes. LearnerObjects received are recorded in ``refs``.
    """
    total = 0

    def part():
        nonlocal total
        size = int.from_bytes(read(8), "little")
        total += size
        if total > MAX_MESSAGE:
            raise ValueError(f"a message of over {total:,} bytes (at most {MAX_MESSAGE:,})")
        return read(size)

    header = json.loads(part())
    arrays = []
    for _ in range(header["arrays"]):
        data = part()
        if not data.startswith(b"\x93NUMPY"):
            raise ValueError("an array that is not in .npy format")
        arrays.append(np.load(io.BytesIO(data), allow_pickle=False))

    def decode(node):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        kind, content = node["t"], node["v"]
        if kind not in allowed:
            raise ValueError(f"unexpected {kind!r} in a message")
        if kind == "ref":
            return kept[content]
        if kind in ("tuple", "list"):
            value = (tuple if kind == "tuple" else list)(decode(v) for v in content)
        elif kind == "dict":
            value = {decode(k): decode(v) for k, v in content}
        elif kind in ("array", "scalar"):
            value = arrays[content] if kind == "array" else arrays[content][()]
        elif kind == "rng":
            state = decode(content)
            bits = getattr(np.random, state["bit_generator"])()
            bits.state = state
            value = np.random.Generator(bits)
        elif kind == "formula":
            value = Formula(content[0], **decode(content[1]))
        else:
            value = type(str(content)[:60] or "object", (LearnerObject,), {})()
        if refs is not None and "ref" in node:
            refs[id(value)] = (value, node["ref"])
        return value

    return decode(header["value"])


class CappedOutput(io.TextIOBase):
    """stdout and stderr of learner code: keeps the first ``limit`` characters, counts all."""

    def __init__(self, limit):
        super().__init__()
        self.limit, self.text, self.total = limit, "", 0

    def write(self, text):
        text = str(text)
        self.text += text[:max(0, self.limit - len(self.text))]
        self.total += len(text)
        return len(text)

    def writable(self):
        return True

    def take(self):
        """(the text kept, the number of characters written) since the last take."""
        taken = self.text, self.total
        self.text, self.total = "", 0
        return taken


class _BlockCnnedu:
    """Import hook refusing ``cnnedu`` with a clear message (it is not on the path anyway)."""

    def find_spec(self, name, path=None, target=None):
        if name == "cnnedu" or name.startswith("cnnedu."):
            raise ImportError(NOT_ALLOWED)
        return None


def _limit_resources(memory_mb, cpu_seconds):
    """Cap this process: address space, CPU time, file size; no core files."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 2**20, memory_mb * 2**20))
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    cap = cpu_seconds if hard == resource.RLIM_INFINITY else min(cpu_seconds, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (cap, hard))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 2**20, 64 * 2**20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def landlock_abi():
    """The Landlock version this kernel offers: 0 if none (Landlock needs Linux 5.13+)."""
    if sys.platform != "linux":
        return 0
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        # landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)
        return max(0, libc.syscall(ctypes.c_long(444), None, ctypes.c_size_t(0),
                                   ctypes.c_uint32(1)))
    except (OSError, AttributeError):
        return 0


def _sandbox(writable):
    """Landlock this process (see the module docstring; ``writable``: folders it may write).

    Returns the Landlock version used, 0 if none. The structures are landlock(7)'s.
    """
    abi = landlock_abi()
    if abi < 1:
        return 0
    paths = sysconfig.get_paths()
    readable = {paths["stdlib"], paths["platstdlib"], os.path.dirname(np.__file__)}
    with open("/proc/self/maps") as maps:  # shared libraries may load others from their folder
        for line in maps:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and fields[5].startswith("/"):
                readable.add(os.path.dirname(fields[5].rstrip("\n")))
    libc = ctypes.CDLL(None, use_errno=True)
    every = (1 << {1: 13, 2: 14, 3: 15, 4: 15}.get(abi, 16)) - 1  # every file right this ABI knows
    # struct landlock_ruleset_attr {handled_access_fs, handled_access_net, scoped}, as far as
    # this ABI knows it: TCP bind and connect, abstract sockets and signals.
    attr = struct.pack("<QQQ", every, 3 if abi >= 4 else 0, 3 if abi >= 6 else 0)
    attr = attr[:8 if abi < 4 else 16 if abi < 6 else 24]
    ruleset = libc.syscall(ctypes.c_long(444), attr, ctypes.c_size_t(len(attr)),
                           ctypes.c_uint32(0))  # landlock_create_ruleset
    if ruleset < 0:
        return 0
    read = 1 | 4 | 8  # execute, read files, read folders
    for folders, access in ((readable, read), (writable, every)):
        for folder in folders:
            try:
                fd = os.open(folder, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            except OSError:
                continue
            rule = struct.pack("<Qi", access, fd)  # struct landlock_path_beneath_attr (packed)
            libc.syscall(ctypes.c_long(445), ctypes.c_long(ruleset), ctypes.c_long(1), rule,
                         ctypes.c_uint32(0))  # landlock_add_rule
            os.close(fd)
    libc.prctl(ctypes.c_long(38), ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0),
               ctypes.c_ulong(0))  # PR_SET_NO_NEW_PRIVS, which restrict_self requires
    done = libc.syscall(ctypes.c_long(446), ctypes.c_long(ruleset), ctypes.c_uint32(0)) == 0
    os.close(ruleset)
    return abi if done else 0


def serve():
    """The learner process: read the job, lock the process down, load, answer until EOF."""
    requests, replies = os.fdopen(os.dup(0), "rb"), os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # what learner code writes at the C level goes nowhere
        os.dup2(devnull, fd)
    kept = []  # what this process sent, by index: the grader may send it back (a cache)

    def read(n):
        data = requests.read(n)
        if len(data) != n:
            raise EOFError
        return data

    def reply(message):
        replies.write(encode_message(message, kept=kept))
        replies.flush()

    job = read_message(read, REQUEST_KINDS)
    sys.path.remove(sys.argv.pop())  # NumPy is loaded; nothing else may come from its folder
    sys.path_importer_cache.clear()
    sys.meta_path.insert(0, _BlockCnnedu())
    _limit_resources(job["memory_mb"], job["cpu_seconds"])
    sandbox = _sandbox([os.getcwd()])
    captured = CappedOutput(job["output_limit"])
    sys.stdout = sys.stderr = captured
    loaded = [load(cells) for cells in job["notebooks"]]
    captured.take()  # what the definitions print is nobody's business
    reply({"notes": [note for _, notes in loaded for note in notes], "sandbox": sandbox,
           "names": [[k for k in namespace if not k.startswith("__")] for namespace, _ in loaded]})
    while True:
        try:
            request = read_message(read, REQUEST_KINDS, kept=kept)
        except EOFError:
            return
        if request["forget"]:  # the grader holds nothing this process sent: none can come back
            del kept[:]
        function = loaded[request["notebook"]][0][request["function"]]
        with np.errstate(**request["errstate"]):  # e.g. over="raise" while sigmoid is checked
            value, hint = call(function, request["args"], request["kwargs"], request["where"],
                               request["restored"])
        output, output_chars = captured.take()
        # A value that cannot be sent (a list holding itself) ends this process: the grader
        # reports that it exited.
        reply({"value": value, "hint": hint, "output": output, "output_chars": output_chars})


if __name__ == "__main__":
    serve()
