"""Long-running processes kilnflow starts and finds again: model servers (kiln.serving),
JupyterLab notebook servers (`notebooks.py`) and, next, the registry's sync workers. One
manager (`manager.py`) records, starts, finds, stops and checks them all."""
