"""What a musician looks at and listens to: the piano roll, the score (MusicXML and its engraving), the audio."""
