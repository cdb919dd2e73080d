"""Docker-free Lambda executor for LocalStack (see executor.py and init_process.py)."""
