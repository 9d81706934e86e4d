"""`mst studio`: the transfer in the browser (Gradio), on the same pipeline as `mst transfer`."""
