package com.example;

import java.util.List;

public class Server {
    static int parsePort(String s) {
        try {
            return Integer.parseInt(s);
        } catch (NumberFormatException e) {
            throw new IllegalStateException("bad PORT setting: " + s, e);
        }
    }

    static void handle(List<String> items, int i) {
        System.out.println("item " + items.get(i));
    }

    public static void main(String[] args) throws Exception {
        System.out.println("server starting");
        try {
            handle(List.of("a", "b"), 5);
        } catch (IndexOutOfBoundsException e) {
            System.out.println("request failed");
            e.printStackTrace(System.out);
        }
        System.out.println("listening on 8080");
        parsePort("80a80");
    }
}
