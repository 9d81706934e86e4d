"""The model: build, save and load it; run folders and their file names; adapters and blends; the nanoGPT
import; the Hugging Face Hub."""
