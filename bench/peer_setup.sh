#!/bin/sh
# A separate environment for the peer (yProv4ML), so that its dependencies never touch the project's venv.
# It sees the project venv's packages (torch) through a .pth line, installs yProv4ML and its light
# dependencies (not torchvision: yProv4ML declares it but never imports it), and applies the local fix
# that Python < 3.12 needs (two f-strings nest double quotes, a 3.12-only syntax).
# Usage: PYTHON=/work/venv/bin/python sh bench/peer_setup.sh [FOLDER]   then   BENCH_PEER_PYTHON=FOLDER/bin/python python -m bench --only peer
set -eu
folder=${1:-/tmp/peer-venv}
base=$("${PYTHON:-python}" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
"${PYTHON:-python}" -m venv "$folder"
site=$("$folder/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$base" > "$site/project-venv.pth"
"$folder/bin/pip" install --quiet --no-deps yprov4ml==3.2.8
"$folder/bin/pip" install --quiet fvcore netCDF4 pandas pydot rocrate "zarr<3" xarray lxml "rdflib<7"
sed -i "s/source if source != \"\" else NF/source if source != '' else NF/" "$site/yprov4ml/prov2card.py"
"$folder/bin/python" -c 'import yprov4ml' && echo "peer ready: BENCH_PEER_PYTHON=$folder/bin/python"
