# One call on a lent GPU machine (a bare image: CUDA torch and triton, Python 3.12, no network), run from the
# repository root with the results written under $OUT. Every stage stops at its own deadline, so the call
# ends before BUDGET seconds (default 560, under the device tool's 600 s per command).
#
# Before the call, on the CPU machine:
#   pip download --no-deps --only-binary=:all: --python-version 3.12 -d .whl constriction soundfile cffi pycparser
#   mkdir -p .gpu/corpus && cp ../shared/corpus/image/{kodim*,skimage_astronaut}.png .gpu/corpus/
# and carry [".whl", ".gpu"] (both git-ignored). Stages: STAGES="encode rd" (default), where
#   encode   bench/kernels.py: default-quality encodes of kodim23, kernels against eager torch (issue 6)
#   kernels  bench/kernels.py: fit-step and decode timings, correctness on the GPU
#   rd       bench/rd.py: siren and doh on the Kodak images at RD_STEPS (default 16000), RD_JOBS at a time
#   projection  bench/doh_projection.py: D'OH's dense (Triton) against Hadamard projections
BUDGET=${BUDGET:-560}
START=$SECONDS
left() { echo $(( BUDGET - (SECONDS - START) )); }

python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
# The GPU image has no setuptools build of this checkout: a shim package named inrcodec points at it.
rm -rf /tmp/shim && mkdir -p /tmp/shim && cp -r codec /tmp/shim/inrcodec
ln -s "$PWD/kernels" /tmp/shim/inrcodec/kernels && ln -s "$PWD/formats" /tmp/shim/inrcodec/formats
export PYTHONPATH=/tmp/shim:/tmp/site:$PWD PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,clocks.sm,memory.used --format=csv,noheader
python3 -c "import torch, triton, inrcodec; print(torch.__version__, triton.__version__, inrcodec.__file__)" || exit 1

# Run a command in its own process group and stop the whole group (pool workers too) at its deadline.
bounded() {
    local seconds=$1 log=$2; shift 2
    setsid "$@" > "$log" 2>&1 &
    local pid=$!
    local end=$(( SECONDS + seconds ))
    while kill -0 $pid 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 2; done
    if kill -0 $pid 2>/dev/null; then
        echo "deadline: stopping $*"; kill -TERM -- -$pid 2>/dev/null; sleep 3; kill -KILL -- -$pid 2>/dev/null
    fi
    wait $pid 2>/dev/null
    grep -v "CUDAEvent.h" "$log" | tail -n 40
}

for stage in ${STAGES:-encode rd}; do
    case $stage in
        encode) bounded $(( $(left) < 150 ? $(left) : 150 )) $OUT/encode.log python3 bench/kernels.py \
                    --skip check tune step decode trajectory doh --encode .gpu/corpus/kodim23.png --out $OUT ;;
        kernels) bounded $(( $(left) < 240 ? $(left) : 240 )) $OUT/kernels.log python3 bench/kernels.py --skip encode \
                    --image .gpu/corpus/skimage_astronaut.png --out $OUT ;;
        rd) bounded $(( $(left) - 10 )) $OUT/rd.log python3 bench/rd.py --images .gpu/corpus --codecs siren doh \
                --steps ${RD_STEPS:-16000} --jobs ${RD_JOBS:-6} --tag gpu${RD_STEPS:-16000} --out $OUT ;;
        projection) bounded $(( $(left) < 120 ? $(left) : 120 )) $OUT/projection.log python3 bench/doh_projection.py \
                    --device cuda --bpp 0.25 0.5 1 --out $OUT ;;
        *) echo "unknown stage $stage" ;;
    esac
done
echo "done at $((SECONDS - START)) s"
ls -la $OUT
