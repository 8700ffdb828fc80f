# Bad input gives one line naming the file and what is wrong, and exit 1.
. tests/e2e/lib.sh
make_cifar10 "$T/cifar"
pcq-info --data "cifar10:$T/cifar" --save "$T/ds.msgpack" >/dev/null
pcq-info "$T/ds.msgpack" >/dev/null

# Truncated.
head -c 100 "$T/ds.msgpack" >"$T/cut.msgpack"
expect_error 1 "'$T/cut.msgpack': truncated" pcq-info "$T/cut.msgpack"
# Not msgpack / not ours / empty.
printf 'hello world' >"$T/text.msgpack"
expect_error 1 "'$T/text.msgpack': not a PCQ file" pcq-info "$T/text.msgpack"
: >"$T/empty.msgpack"
expect_error 1 "'$T/empty.msgpack': empty file" pcq-info "$T/empty.msgpack"
expect_error 1 "'$T/none.msgpack': cannot open: No such file" pcq-info "$T/none.msgpack"
# Unknown format version: the byte after the "version" key.
perl -pe 's/\xa7version\x01/\xa7version\x02/' "$T/ds.msgpack" >"$T/v2.msgpack"
expect_error 1 "'$T/v2.msgpack': unsupported format version 2" pcq-info "$T/v2.msgpack"
# A tensor whose bytes do not match its shape: test.labels claims 4 of 3.
perl -pe 's/\xa5shape\x91\x03\xa4data\xc4\x0c/\xa5shape\x91\x04\xa4data\xc4\x0c/' \
	"$T/ds.msgpack" >"$T/shape.msgpack"
cmp -s "$T/ds.msgpack" "$T/shape.msgpack" && fail "the shape edit changed nothing"
expect_error 1 "'$T/shape.msgpack': tensor 'test.labels': data is 12 bytes, but shape 4 of i32 needs 16" \
	pcq-info "$T/shape.msgpack"
# A file of the wrong kind where a data set file is expected.
pcq-info --data "dataset:$T/ds.msgpack" --json >"$T/ok.json"
[ "$(json "$T/ok.json" "j['splits'][0]['n']")" = 10 ] || fail "dataset file round trip"
printf '\202\246format\243pcq\247version\001' >"$T/partial.msgpack"
expect_error 1 "'$T/partial.msgpack': missing 'kind'" pcq-info "$T/partial.msgpack"
perl -pe 's/\xa4kind\xa7dataset/\xa4kind\xa5model/' "$T/ds.msgpack" >"$T/model.msgpack"
expect_error 1 "'$T/model.msgpack': is a model file, expected a dataset file" \
	pcq-info --data "dataset:$T/model.msgpack"
# Data sets: a missing folder, a CIFAR file of the wrong size.
expect_error 1 "'$T/nowhere" pcq-info --data "cifar10:$T/nowhere"
head -c 5000 "$T/cifar/test_batch.bin" >"$T/short.bin" && mv "$T/short.bin" "$T/cifar/test_batch.bin"
expect_error 1 "test_batch.bin'.*5000.*3073" pcq-info --data "cifar10:$T/cifar" --split test
expect_error 1 "unknown data set kind|known kinds" pcq-info --data "nosuch:$T"
