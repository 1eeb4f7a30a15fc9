# TEST DOUBLE of Prefect 3.4 (prefect.deployments); product code must not know about it.
