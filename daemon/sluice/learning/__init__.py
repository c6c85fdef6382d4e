"""Small numpy learners shared by routing and the cascade (no scikit-learn)."""
