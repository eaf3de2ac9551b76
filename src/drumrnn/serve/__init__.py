"""Stage 6, the drum machine in the browser (``drumrnn serve``): grids <-> hits, what the
page's buttons do, the drum sounds, and the FastAPI app serving the JSON API and the page.

Takes a :class:`~drumrnn.generation.generate.DrumGenerator` (and the render stage for MIDI,
WAV and sounds); gives an ASGI app. Never imports torch; FastAPI only in ``drumrnn.serve.api``.
"""
