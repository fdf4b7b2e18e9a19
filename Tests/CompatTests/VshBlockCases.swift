/// blkdeviotune, blockresize and the block job commands on test:///default in the vsh/virsh differential test:
/// libvirt 9.0's test driver keeps `<iotune>` in the definition with its own checks, and answers NO_SUPPORT for
/// resize and block jobs.
enum VshBlockCases {
    static let all: [VshCase] = [
        .line("blkdeviotune-get", "blkdeviotune test vda; blkdeviotune test vda --config; blkdeviotune test vdz; "
              + "blkdeviotune test /guest/diskimage1"),
        .line("blkdeviotune-set", "blkdeviotune test vda --total-bytes-sec-max 100 --total-bytes-sec 5; "
              + "blkdeviotune test vda; blkdeviotune test vda --total-bytes-sec 500; "
              + "blkdeviotune test vda --read-iops-sec-max 7 --read-iops-sec 3 --group-name g; blkdeviotune test vda; "
              + "dumpxml test"),
        .line("blkdeviotune-errors", "blkdeviotune test vda --total-bytes-sec 5; "
              + "blkdeviotune test vda --total-iops-sec-max 9 --read-iops-sec-max 1; "
              + "blkdeviotune test vda --total-bytes-sec 1000000000000001; blkdeviotune test vdz --total-iops-sec 1; "
              + "blkdeviotune test vda --live --config --total-iops-sec 1; blkdeviotune test vda --total-iops-sec x"),
        .line("block-jobs-unsupported", "blockresize test vda 1M; blockjob test vda; blockjob test vda --abort; "
              + "blockjob test vda --bandwidth 1; blockpull test vda; blockcommit test vda; blockcopy test vda /tmp/x; "
              + "blockcopy test vda /tmp/x --transient-job; blockpull test vda --base /x"),
    ]
}
