"""What the tests and the benchmark both run: the service as the PaaS starts it
(`server_process`), a migrated database of their own (`database`), and a loopback
OpenAI-compatible server (`fake_openai`). Nothing here is imported by the service itself.
"""
