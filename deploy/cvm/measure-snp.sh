#!/usr/bin/env bash
# Expected SEV-SNP launch measurement of the teecube CVM, with the public sev-snp-measure
# (pip install sev-snp-measure). Inputs are exactly what the host launches: the OVMF build,
# the direct-boot kernel, initrd and command line (their SHA-256 go into OVMF's hash table),
# the vCPU count and type, the VMM type and the guest features.
#
#   deploy/cvm/measure-snp.sh OVMF KERNEL INITRD CMDLINE_FILE VCPUS [VCPU_TYPE] [VMM]
#   e.g. measure-snp.sh OVMF.fd vmlinuz initrd.img cmdline.txt 16 EPYC-v4 QEMU
#
# Prints the 96-hex-digit measurement, which goes into the clients' policy:
#   ["sev-snp"] measurements = ["<hex>"]      (docs/deploy.md, "Confidential VM")
# SEV_SNP_MEASURE=path overrides the tool. GUEST_FEATURES is the VMSA SEV_FEATURES the host's
# KVM sets: 0x1 (SNPActive, the tool's default) or 0x21 (plus DebugSwap, which host kernels
# >= 6.6 enable unless told not to). Use the value your host really launches with.
set -euo pipefail

if (($# < 5)); then
  sed -n '2,14p' "$0" >&2
  exit 2
fi
ovmf=$1 kernel=$2 initrd=$3 cmdline_file=$4 vcpus=$5
vcpu_type=${6:-EPYC-v4}
vmm=${7:-QEMU}
for f in "$ovmf" "$kernel" "$initrd" "$cmdline_file"; do
  [[ -f "$f" ]] || { echo "measure-snp: no such file: $f" >&2; exit 1; }
done

exec "${SEV_SNP_MEASURE:-sev-snp-measure}" \
  --mode snp \
  --vmm-type "$vmm" \
  --vcpus "$vcpus" \
  --vcpu-type "$vcpu_type" \
  --ovmf "$ovmf" \
  --kernel "$kernel" \
  --initrd "$initrd" \
  --append "$(cat "$cmdline_file")" \
  --guest-features "${GUEST_FEATURES:-0x1}" \
  --output-format hex
