"""The baseline for bench/web.py: a bare Flask app that answers "hello", nothing else."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "hello"
