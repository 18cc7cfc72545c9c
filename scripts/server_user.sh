# server_user.sh - sourced by the scripts that start their own servers (pgtmp.sh and the
# engine checks under test/): initdb and postgres refuse to run as root, so as root the
# servers run as the unprivileged Debian user "postgres", otherwise as the calling user.
#
#   as_server_user CMD ARGS...   run CMD as that user
#   server_tmpdir                print a new temporary folder that user can write
#   server_user                  print that user's name

# Run a command as the user the servers run as.
as_server_user() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# The user the servers run as.
server_user() {
    if [ "$(id -u)" = 0 ]; then
        echo postgres
    else
        id -un
    fi
}

# A new temporary folder, readable by everyone and owned by the server user.
server_tmpdir() {
    local dir
    dir=$(mktemp -d)
    chmod 755 "$dir"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$dir"
    fi
    echo "$dir"
}
