"""A small static file server for paas's static buildpack.

Serves ROOT (the first argument) on $PORT: index.html for directories, no
directory listings, nothing hidden (dotfiles), a 404.html of the site's own if
it has one. Standard library only, so it runs on the run stack as it is.
"""

import http.server
import os
import signal
import sys

ROOT = os.path.realpath(sys.argv[1] if len(sys.argv) > 1 else ".")


class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=ROOT, **kwargs)

    def send_head(self):
        path = self.translate_path(self.path)
        hidden = any(part.startswith(".") for part in self.path.split("?")[0].split("/"))
        if os.path.isdir(path):
            index = os.path.join(path, "index.html")
            if not os.path.isfile(index):
                return self.not_found()
        if hidden or not os.path.exists(path):
            return self.not_found()
        return super().send_head()

    def not_found(self):
        page = os.path.join(ROOT, "404.html")
        body = b"Not Found\n"
        if os.path.isfile(page):
            with open(page, "rb") as f:
                body = f.read()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        return None

    def end_headers(self):
        self.send_header("Cache-Control", "public, max-age=60")
        super().end_headers()


def main():
    port = int(os.environ.get("PORT", "5000"))
    server = http.server.ThreadingHTTPServer(("0.0.0.0", port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"serving {ROOT} on port {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
