"""Reports of a batch of checks, one module per format, each a pure rendering of `BatchRun`.

`text` makes what an engine wrote fit to show and puts a verdict in words; `terminal` is the row per target;
`junit` the XML test views read; `html` the self-contained page; `github` the step
summary and the annotations of GitHub Actions. The JSON document is `BatchRun.to_dict`.
"""
