"""Benchmarks that print their figures: ``python -m bench.dispatch``, ``python -m bench.interactive``
and ``python -m bench.storm``. Each starts what it needs on 127.0.0.1 (Ackbot as real ``ackbot``
processes, fake providers and baselines in processes of their own) and removes it afterwards."""
