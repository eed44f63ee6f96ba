#!/bin/sh
# Install the packaged chatapp for the current user: the app folder, a menu entry, icons and a
# `chatapp` command.  No root needed.  Run from the bundle:  ./install.sh
# Environment: XDG_DATA_HOME (default ~/.local/share), CHATAPP_BIN_DIR (default ~/.local/bin).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
bin=${CHATAPP_BIN_DIR:-$HOME/.local/bin}
dest="$data/chatapp-app"

if [ ! -x "$here/chatapp" ]; then
    echo "install.sh: run me from the chatapp bundle folder (no chatapp executable in $here)" >&2
    exit 1
fi
if [ "$here" != "$dest" ]; then
    rm -rf "$dest.new"
    mkdir -p "$data"
    cp -a "$here" "$dest.new"       # copy first, then swap: a failed copy leaves the old app
    rm -rf "$dest"
    mv "$dest.new" "$dest"
fi

mkdir -p "$data/applications" "$bin"
sed "s|@EXEC@|$dest/chatapp|g" "$dest/chatapp.desktop.in" > "$data/applications/chatapp.desktop"
chmod 644 "$data/applications/chatapp.desktop"
for dir in "$dest"/icons/hicolor/*/apps; do
    size=$(basename "$(dirname "$dir")")
    mkdir -p "$data/icons/hicolor/$size/apps"
    cp "$dir/chatapp.png" "$data/icons/hicolor/$size/apps/chatapp.png"
done
ln -sf "$dest/chatapp" "$bin/chatapp"

# Menus notice new entries by themselves on most desktops; these refresh the caches if present.
command -v update-desktop-database >/dev/null 2>&1 && \
    update-desktop-database -q "$data/applications" 2>/dev/null || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && \
    gtk-update-icon-cache -q -t "$data/icons/hicolor" 2>/dev/null || true

echo "chatapp is installed: open it from your applications menu, or run $bin/chatapp"
echo "(to remove it: $dest/uninstall.sh)"
