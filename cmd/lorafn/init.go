package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/lorafn/lorafn/core/model"
)

func runInit(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("init", stdout)
	config := fs.String("config", "", "a Hugging Face config.json")
	out := fs.String("out", "", "folder to write config.json and model.safetensors to")
	seed := fs.Uint64("seed", 0, "initialisation seed")
	std := fs.Float64("std", 0.02, "standard deviation of the weight matrices (HF initializer_range)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := required("config", *config); err != nil {
		return err
	}
	if err := required("out", *out); err != nil {
		return err
	}
	data, err := os.ReadFile(*config)
	if err != nil {
		return err
	}
	c, err := model.ParseConfig(*config, data)
	if err != nil {
		return err
	}
	m := model.New(c, nil)
	m.InitRandom(*seed, *std)
	if err := m.Save(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %s, %d parameters\n", *out, c.Architecture, m.NumParams())
	return nil
}
