"""`cloudroutes demo`: the main job told as a story (story.py) against an embedded cloud (clouds.py)."""
