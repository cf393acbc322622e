#!/usr/bin/env bash
# Relocation on real programs built from Debian sources with --prefix (make
# test-debsrc, not in CI: it compiles nginx, pcre2, zlib and lua, ~5 min):
# nginx against its own pcre2 and zlib with an rpath, and lua. The tree is
# packed, hidden (a tmpfs over it in a mount namespace), and installed and
# run at every length from 8 bytes up to the limit the installer prints;
# one byte more must be refused. Needs root, deb-src lines and dpkg-dev.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=${WORK:-/var/tmp/terrapack-debsrc}
P=$work/prefix/nginx-and-lua-1.22
mkdir -p "$work/src" "$work/build"
if [ ! -x "$P/sbin/nginx" ] || [ ! -x "$P/bin/lua" ]; then
  (cd "$work/src" && [ -d nginx-1.22.1 ] || apt-get source -qq nginx pcre2 zlib lua5.4 >/dev/null)
  rm -rf "$P" "$work/build"/* && mkdir -p "$P"
  cp -a "$work"/src/{pcre2-*,zlib-*,nginx-1.*} "$work/build/"
  (cd "$work"/build/zlib-* && ./configure --prefix="$P" >/dev/null && make -j2 >/dev/null && make install >/dev/null)
  (cd "$work"/build/pcre2-* && ./configure --prefix="$P" --disable-static >/dev/null && make -j2 >/dev/null && make install >/dev/null)
  (cd "$work"/build/nginx-1.* && ./configure --prefix="$P" --with-cc-opt="-I$P/include -O2" \
      --with-ld-opt="-L$P/lib -Wl,-rpath,$P/lib" >/dev/null && make -j2 >/dev/null && make install >/dev/null)
  # Debian's lua build uses libtool; upstream's Makefile takes the prefix in luaconf.h.
  (cd "$work/build" && tar xzf "$work"/src/lua5.4_*.orig.tar.gz && cd lua-5.4.* &&
      sed -i "s|#define LUA_ROOT\t\"/usr/local/\"|#define LUA_ROOT\t\"$P/\"|" src/luaconf.h &&
      make -j2 linux >/dev/null && make install INSTALL_TOP="$P" >/dev/null)
  sed -i 's/listen       80;/listen       18089;/' "$P/conf/nginx.conf"
  mkdir -p "$P/share/lua/5.4" && echo 'return "module found"' >"$P/share/lua/5.4/tpmod.lua"
fi
run=$work/app.run
"$here/bin/terrapack" build "$P" -o "$run" --prefix "$P" --compression none -q
limit=$("$here/bin/terrapack" inspect --relocations "$run" | sed -n 's/^longest target:  \([0-9]*\) bytes.*/\1/p')
echo "build prefix $P (${#P} bytes), printed limit $limit"
export run limit P
unshare --mount --propagation private bash -eu -c '
mount -t tmpfs none "$(dirname "$P")"
fails=0
for n in $(seq 8 "$limit"); do
  base=/tmp/ds$$; mkdir -p $base
  if [ $n -ge $(( ${#base} + 2 )) ]; then T=$base/$(printf "%0$(( n - ${#base} - 1 ))d" 0); else T=/tmp/$(printf "%0$(( n - 5 ))d" 0); fi
  rm -rf "$T"; "$run" --to "$T" -q
  out=$("$T/sbin/nginx" -t 2>&1) || { echo "$n: nginx -t: $out"; fails=$((fails+1)); }
  "$T/sbin/nginx" && sleep 0.2
  page=$(curl -s http://127.0.0.1:18089/ | grep -c "Welcome to nginx" || true)
  "$T/sbin/nginx" -s quit 2>/dev/null || true; sleep 0.2
  [ "$page" -ge 1 ] || { echo "$n: nginx did not serve its page"; fails=$((fails+1)); }
  lua=$("$T/bin/lua" -e "print((require \"tpmod\"))" 2>&1) || true
  [ "$lua" = "module found" ] || { echo "$n: lua: $lua"; fails=$((fails+1)); }
  left=$(grep -rlF --exclude-dir=.terrapack "$P" "$T" || true)
  [ -z "$left" ] || { echo "$n: still naming the build prefix: $left"; fails=$((fails+1)); }
  echo "$n bytes ($T): nginx -t ok, page served, lua found its module"
  rm -rf "$T" $base
done
over=/tmp/$(printf "%0$(( limit + 1 - 5 ))d" 0)
if "$run" --to "$over" -q 2>/dev/null; then echo "$((limit+1)) bytes accepted"; fails=$((fails+1)); rm -rf "$over"; else echo "$((limit+1)) bytes: refused"; fi
echo "failures: $fails"; [ $fails = 0 ]
'
