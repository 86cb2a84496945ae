#!/usr/bin/env bash
# Installs the PyTorch baseline of `make bench-train` from Debian: python3-torch
# and the pthread build of OpenBLAS (the fastest BLAS Debian offers here), and
# makes that OpenBLAS the system BLAS/LAPACK. Does nothing when both are there.
set -euo pipefail
need=()
/usr/bin/python3 -c 'import torch' 2>/dev/null || need+=(python3-torch)  # Debian's interpreter, not a pyenv shim
dpkg -s libopenblas0-pthread >/dev/null 2>&1 || need+=(libopenblas0-pthread)
if ((${#need[@]})); then
  echo "install_torch: apt-get install ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
for lib in libblas.so.3 liblapack.so.3; do
  alt=$(update-alternatives --list "$lib-$arch" 2>/dev/null | grep openblas-pthread | head -1 || true)
  if [[ -n "$alt" ]]; then update-alternatives --quiet --set "$lib-$arch" "$alt"; fi
done
