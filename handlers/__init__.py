"""The Python behind the diagrams' service tasks, one module per concern.

Each handler is registered with `@engine.registry.handler("topic")`; a service task names
the topic in the modeller. `docs/diagrams.md` lists the topics and their properties.
"""
