"""Independent reference implementations used as test oracles.

Nothing here imports ``cep``: an oracle that shared code with the engine would share its bugs.
Each module is written to be obviously correct, not fast.
"""
