"""The dashboard (`o2twin dashboard`, extra ``.[dashboard]``): a Streamlit page over the public run API.

It never runs the twin itself: a live run is ``orchestrator.results.run.open_run`` stepped in a worker process
(``worker``), whose samples, events and link figures come back over a pipe (``live``). The pages (``app`` and the
``view_*`` modules) show live plots, alarms, the hardware-in-the-loop link, finished runs (``runs``) and studies
(``studies``). Every file the browser names is checked to lie in the results or scenario folders (``folders``).
"""
