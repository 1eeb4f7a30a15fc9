"""The quick start's example flow: deploy it with

    pag-ansible deploy-flow -i inventory.yml -s secrets.yml --flow-dir examples/flows/demo --entrypoint main.py:my_workflow

Without a packed-env.tar beside this file it runs in the workers' own Prefect environment (see README,
"deploy-flow", for packing a flow's own environment with pixi-pack).
"""

import platform

from prefect import flow, get_run_logger


@flow(log_prints=True)
def my_workflow(name: str = "world", count: int = 1) -> str:
    """Greets `name` `count` times from the worker host that runs it."""
    logger = get_run_logger()
    for _ in range(count):
        print(f"Hello, {name}, from {platform.node()}")
    logger.info("ran with Python %s", platform.python_version())
    return name


if __name__ == "__main__":
    my_workflow()
