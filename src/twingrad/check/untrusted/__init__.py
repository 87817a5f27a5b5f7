"""Code that runs beside a learner's engine, inside the sandbox: never imported by twingrad.

`pyworker.py` is started as a script (``python -I pyworker.py``) under whatever Python the
user chose, so it uses the standard library only and the syntax of Python 3.8. It loads
the engine, runs the case programs it is sent and answers with numbers and graphs
(docs/protocol.md). Nothing in this folder judges anything.
"""
