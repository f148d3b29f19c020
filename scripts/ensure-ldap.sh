#!/usr/bin/env bash
# Makes the real directory servers available for tests/ldap-slapd.test.ts (OpenLDAP's
# slapd) and tests/ldap-samba.test.ts (a Samba Active Directory domain controller).
# Idempotent: installs only what is missing, from Debian's packages (slapd, samba,
# samba-common-bin for samba-tool, samba-ad-provision for the AD schema, openssl for the
# tests' throwaway CA). Needs root (or sudo) and apt. The tests start their own servers in temp dirs; a system slapd or Samba
# left running on ports 389/636 would be in the AD test's way, so this script starts none.
set -euo pipefail

here="$(dirname "$0")"
[ -x /usr/sbin/slapd ] || "$here/apt-install.sh" slapd "OpenLDAP slapd"
[ -x /usr/sbin/samba ] || "$here/apt-install.sh" samba "Samba AD domain controller"
command -v samba-tool >/dev/null 2>&1 || "$here/apt-install.sh" samba-common-bin "samba-tool"
# What a domain controller needs beyond the samba package: only recommended by it, so
# --no-install-recommends leaves them out and `samba-tool domain provision` fails without
# them (the AD schema files; the directory's ldb modules such as samba_secrets; the
# acl_xattr file-system module the provision sets the sysvol's ACLs with).
[ -f /usr/share/samba/setup/ad-schema/AD_DS_Attributes__Windows_Server_2012_R2.ldf ] ||
  "$here/apt-install.sh" samba-ad-provision "Samba's AD schema files (samba-ad-provision)"
dpkg -s samba-dsdb-modules >/dev/null 2>&1 ||
  "$here/apt-install.sh" samba-dsdb-modules "Samba's directory database modules (samba-dsdb-modules)"
dpkg -s samba-vfs-modules >/dev/null 2>&1 ||
  "$here/apt-install.sh" samba-vfs-modules "Samba's file-system modules (samba-vfs-modules)"
command -v openssl >/dev/null 2>&1 || "$here/apt-install.sh" openssl "openssl"

/usr/sbin/slapd -VV 2>&1 | head -n 1
/usr/sbin/samba --version
