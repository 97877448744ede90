"""Pack the CIFAR-10 files the GPU reproduction needs into small carried archives.

The device machine receives only the repository tree plus the ``carry`` paths, 64 MiB in
all. The shared ``cifar10_lt_train_r100.npz`` + ``cifar10_test.npz`` take 59.3 MiB
(deflate-compressed); re-packed as uncompressed ``.npz`` files (same names, same keys,
``np.load`` reads them alike) inside an xz archive whose byte-delta filter (distance 3:
the same channel of the previous pixel) suits the pixels, they take about 44 MiB, which
leaves room for the repository. ``run_cifar_lt.sh`` unpacks every ``.data/*.tar.xz``
with Python's ``tarfile`` into a temporary folder and passes it as ``--data-dir``.

Ratio 10 does not fit beside the test set in one call (its training set alone is about
40 MiB packed): pack it alone and carry it in a later call on the still-warm machine,
which keeps the test set of the first call (see docs/reproduction.md).

Run with ``python benchmarks/gpu/pack_data.py`` (reads the shared data directory, see
``benchmarks.datasets.get_data_dir``; writes ``.data/cifar10_r100.tar.xz`` and checks
the round trip; about a minute), and for ratio 10 ``python benchmarks/gpu/pack_data.py
--files cifar10_lt_train_r10.npz --out .data/cifar10_r10_train.tar.xz``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import lzma
import tarfile
import time
from pathlib import Path

import numpy as np

from benchmarks.datasets import get_data_dir

FILES = ("cifar10_lt_train_r100.npz", "cifar10_test.npz")


def _digest(path_or_file) -> str:
    with np.load(path_or_file) as z:
        h = hashlib.sha256()
        for key in sorted(z.files):
            h.update(key.encode())
            h.update(np.ascontiguousarray(z[key]).tobytes())
        return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    """Write the archive and check that every array reads back the same."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", default=".data/cifar10_r100.tar.xz")
    p.add_argument("--files", nargs="+", default=list(FILES), help="npz files to pack")
    p.add_argument("--preset", type=int, default=6, help="xz preset (0-9)")
    args = p.parse_args(argv)
    src = get_data_dir(args.data_dir)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    start = time.time()
    digests = {}
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w") as tar:
        for name in args.files:
            digests[name] = _digest(src / name)
            with np.load(src / name) as z:
                arrays = {k: z[k] for k in z.files}
            buf = io.BytesIO()
            np.savez(buf, **arrays)  # uncompressed: xz does the compression
            info = tarfile.TarInfo(name)
            info.size = buf.tell()
            info.mtime = int(time.time())
            buf.seek(0)
            tar.addfile(info, buf)
    filters = [{"id": lzma.FILTER_DELTA, "dist": 3},
               {"id": lzma.FILTER_LZMA2, "preset": args.preset}]
    out.write_bytes(lzma.compress(tar_bytes.getvalue(), format=lzma.FORMAT_XZ, filters=filters))
    with tarfile.open(out, "r:xz") as tar:
        for name in args.files:
            if _digest(io.BytesIO(tar.extractfile(name).read())) != digests[name]:
                raise SystemExit(f"round trip of {name} failed")
    size = out.stat().st_size
    print(f"wrote {out}: {size / 2**20:.1f} MiB (from {src}, {time.time() - start:.0f}s); "
          "round trip checked")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
