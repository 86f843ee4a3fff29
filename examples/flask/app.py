"""A Flask app for paas's Python buildpack: `git push` it and it runs with gunicorn."""

import os
import platform

from flask import Flask

app = Flask(__name__)


@app.route("/")
def index():
    return (
        f"Hello from Flask on paas! dyno={os.environ.get('DYNO', '?')} "
        f"release={os.environ.get('PAAS_RELEASE', '?')} "
        f"python={platform.python_version()} "
        f"greeting={os.environ.get('GREETING', '')}\n"
    )


@app.route("/health")
def health():
    return "ok\n"


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "5000")))
