#!/bin/sh
# Remove what install.sh installed.  Your conversations and models stay (they live in the data
# folder, ~/.local/share/chatapp; delete it yourself if you want them gone).
set -eu
data=${XDG_DATA_HOME:-$HOME/.local/share}
bin=${CHATAPP_BIN_DIR:-$HOME/.local/bin}
rm -f "$data/applications/chatapp.desktop"
for icon in "$data"/icons/hicolor/*/apps/chatapp.png; do
    [ -e "$icon" ] && rm -f "$icon"
done
if [ -L "$bin/chatapp" ]; then rm -f "$bin/chatapp"; fi
rm -rf "$data/chatapp-app"
command -v update-desktop-database >/dev/null 2>&1 && \
    update-desktop-database -q "$data/applications" 2>/dev/null || true
echo "chatapp was removed (your conversations and models are still in $data/chatapp)"
