# Every tool answers --help (exit 0, usage on stdout), --version, and an
# unknown option with exit 2 and a hint.
. tests/e2e/lib.sh
for tool in pcq-train pcq-kmeans pcq-fuse pcq-quantize pcq-infer pcq-info; do
	command -v "$tool" >/dev/null || fail "$tool was not built"
	"$tool" --help >"$T/help" || fail "$tool --help exited non-zero"
	grep -q '^Usage: ' "$T/help" || fail "$tool --help prints no usage"
	"$tool" --version | grep -q "^$tool " || fail "$tool --version"
	expect_error 2 "^$tool: unknown option '--no-such-option'" "$tool" --no-such-option
done
expect_error 2 "invalid value 'x1' for --limit" pcq-info --data mnist:/x --limit x1
expect_error 2 "no FILE given" pcq-info
expect_error 2 "unknown option '--bogus' \\(try 'pcq-info --help'\\)" pcq-info --bogus
expect_error 2 "option '--data' needs a value" pcq-info --data
expect_error 2 "invalid value '9' for --first-last-bit" \
	pcq-fuse "$T/m.msgpack" --bit 4 --first-last-bit 9 -o "$T/f.msgpack"
expect_error 2 "invalid value 'gpu' for --device: expected cpu, cuda or auto" \
	pcq-train --arch resnet20 --data mnist:/x --device gpu -o "$T/m.msgpack"
if ! nvidia-smi >/dev/null 2>&1; then
	expect_error 1 "^pcq-train: --device cuda: no usable GPU" \
		pcq-train --arch resnet20 --data mnist:/x --device cuda -o "$T/m.msgpack"
	expect_error 1 "^pcq-infer: --device cuda: no usable GPU" \
		pcq-infer "$T/none.msgpack" --data mnist:/x --device cuda
fi
